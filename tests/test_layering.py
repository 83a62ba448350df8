"""The import rules of docs/architecture.md, checked on the source (an import-linter in small)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def imported_modules(folder: str) -> dict[str, set[str]]:
    """Every absolutely imported module, per file under `folder`."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO / folder).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
        found[str(path.relative_to(REPO))] = names
    return found


# The project's one error root (runtime/errors.py, framework-free) is shared by every layer.
ALLOWED = {"pesto_factory.runtime.errors"}


@pytest.mark.parametrize(("folder", "forbidden"), [
    ("runtime", {"packager", "adapters", "dags", "workflows"}),
    ("schemas", {"runtime", "packager", "adapters"}),
    ("adapters", {"runtime", "packager"}),
])
def test_layers_do_not_import_upwards(folder: str, forbidden: set[str]) -> None:
    offenders = {
        path: bad for path, names in imported_modules(folder).items()
        if (bad := sorted(n for n in names - ALLOWED if n.split(".")[0] in forbidden))}
    assert offenders == {}, f"{folder} must not import {sorted(forbidden)}"


def test_conductor_and_airflow_adapters_do_not_import_each_other() -> None:
    for path, names in imported_modules("adapters").items():
        text = (REPO / path).read_text(encoding="utf-8")
        if "/conductor/" in path:
            assert "pesto_factory.adapters.airflow" not in text, path
        if "/airflow/" in path:
            assert "pesto_factory.adapters.conductor" not in text, path
        uses_airflow = any(name.split(".")[0] == "airflow" for name in names)
        assert not uses_airflow or "/airflow/" in path, path


@pytest.mark.parametrize("module", [
    "runtime", "pesto_factory.runtime.imageio", "pesto_factory.runtime.raster", "pesto_factory.runtime.payload", "schemas"])
def test_public_names_are_exported(module: str) -> None:
    imported = __import__(module, fromlist=["__all__"])
    missing = [name for name in imported.__all__ if not hasattr(imported, name)]
    assert missing == []
