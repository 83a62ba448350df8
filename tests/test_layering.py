"""The import rules of docs/architecture.md, checked on the source (an import-linter in small).

Folders on disk map to the one namespace `pesto_factory` (pyproject.toml's package-dir):
runtime/ is `pesto_factory.runtime`, schemas/ `pesto_factory.schemas`, adapters/
`pesto_factory.adapters`, packager/ `pesto_factory.packager`.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NAMESPACE = "pesto_factory"
FOLDERS = ("runtime", "packager", "adapters", "schemas")

#: What the runtime brings in: neither the base distribution nor the adapters may import it.
RUNTIME_STACK = {"pesto_factory.runtime", "fastapi", "starlette", "uvicorn", "rasterio", "numpy",
                 "pydantic_settings", "prometheus_client", "multipart", "psutil"}
#: The base distribution's entry modules (the REST client, the pipeline spec, both generators)
#: and the schemas; everything of the project they import is checked with them.
BASE_ROOTS = ("adapters/client/__init__.py", "adapters/pipeline/__init__.py",
              "adapters/conductor/generate.py", "adapters/airflow/generate.py",
              "schemas/__init__.py", "schemas/errors.py")


def module_file(module: str) -> Path | None:
    """The source file of a `pesto_factory.*` module, or None for a name outside it."""
    parts = module.split(".")
    if parts[0] != NAMESPACE or len(parts) < 2 or parts[1] not in FOLDERS:
        return None
    base = REPO.joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imports_of(path: Path) -> set[str]:
    """Every absolutely imported module of one file (`from a import b` gives a and a.b)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names
                      if module_file(f"{node.module}.{alias.name}")}
    return names


def imported_modules(folder: str) -> dict[str, set[str]]:
    """Every absolutely imported module, per file under `folder`."""
    return {str(path.relative_to(REPO)): imports_of(path)
            for path in sorted((REPO / folder).rglob("*.py"))}


def within(name: str, prefixes: set[str] | tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def project_names(names: set[str]) -> set[str]:
    return {name for name in names if name.split(".")[0] == NAMESPACE}


@pytest.mark.parametrize(("folder", "allowed"), [
    ("runtime", ("pesto_factory.runtime", "pesto_factory.schemas")),
    ("schemas", ("pesto_factory.schemas",)),
    # Adapters: each other and the schemas (the pipeline spec's, and the shared error root).
    ("adapters", ("pesto_factory.adapters", "pesto_factory.schemas")),
])
def test_layers_import_only_what_they_may(folder: str, allowed: tuple[str, ...]) -> None:
    offenders = {
        path: bad for path, names in imported_modules(folder).items()
        if (bad := sorted(n for n in project_names(names)
                          if n != NAMESPACE and not within(n, allowed)))}
    assert offenders == {}, f"{folder} may import only {list(allowed)} of the project"


def test_the_base_distribution_imports_nothing_of_the_runtime() -> None:
    """The client, the spec, the generators and the schemas, with every project module they
    import (at any depth), import neither pesto_factory.runtime nor its third-party stack."""
    todo = [REPO / root for root in BASE_ROOTS]
    seen: set[Path] = set()
    offenders: dict[str, list[str]] = {}
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        names = imports_of(path)
        if bad := sorted(name for name in names if within(name, RUNTIME_STACK)):
            offenders[str(path.relative_to(REPO))] = bad
        todo += [found for name in names if (found := module_file(name))]
    assert offenders == {}
    assert len(seen) > len(BASE_ROOTS)  # the walk did follow imports


def test_conductor_and_airflow_adapters_do_not_import_each_other() -> None:
    for path, names in imported_modules("adapters").items():
        text = (REPO / path).read_text(encoding="utf-8")
        if "/conductor/" in path:
            assert "pesto_factory.adapters.airflow" not in text, path
        if "/airflow/" in path:
            assert "pesto_factory.adapters.conductor" not in text, path
        uses_airflow = any(name.split(".")[0] == "airflow" for name in names)
        assert not uses_airflow or "/airflow/" in path, path


_OLD = "(?:" + "|".join(FOLDERS) + ")"
#: Ways an old top-level name shows up: an import statement, `python -m NAME`, an entry point.
_OLD_NAME_USES = [re.compile(pattern, re.MULTILINE) for pattern in (
    rf"(?:^|[`;])[ \t]*import[ \t]+{_OLD}\b(?![-/])",
    rf"\bfrom[ \t]+{_OLD}(?:\.[\w.]+)?[ \t]+import\b",
    rf"-m[ \t]+{_OLD}\b(?![-/.\w])",
    rf"[\"'= ]{_OLD}(?:\.\w+)*:\w+\b",
)]


def test_no_file_uses_the_old_top_level_names() -> None:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.split()
    suffixes = (".py", ".md", ".j2", ".toml", ".sh", ".yaml", ".yml", ".cfg")
    found = []
    for name in listed:
        path = REPO / name
        if not (name.endswith(suffixes) or path.name == "Makefile") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for pattern in _OLD_NAME_USES:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{name}:{line}: {match.group().strip()}")
    assert found == [], "use the pesto_factory.* names"


@pytest.mark.parametrize("module", [
    "pesto_factory.runtime", "pesto_factory.runtime.imageio", "pesto_factory.runtime.raster",
    "pesto_factory.runtime.payload", "pesto_factory.schemas"])
def test_public_names_are_exported(module: str) -> None:
    imported = __import__(module, fromlist=["__all__"])
    missing = [name for name in imported.__all__ if not hasattr(imported, name)]
    assert missing == []
