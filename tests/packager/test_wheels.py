"""The runtime-only wheel a service image installs (packager/wheels.py)."""

from __future__ import annotations

import tomllib
import zipfile
from pathlib import Path

from pesto_factory.packager.wheels import runtime_pyproject

from tests.packager.conftest import REPO


def test_the_runtime_wheel_holds_the_runtime_and_the_schemas_only(runtime_wheel: Path) -> None:
    with zipfile.ZipFile(runtime_wheel) as wheel:
        names = wheel.namelist()
        info = next(name.split("/")[0] for name in names if name.endswith(".dist-info/METADATA"))
        metadata = wheel.read(f"{info}/METADATA").decode()
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    packages = {"/".join(name.split("/")[:2]) for name in names if not name.startswith(info)}
    assert packages == {"pesto_factory/runtime", "pesto_factory/schemas"}
    requires = [line.split(": ", 1)[1] for line in metadata.splitlines()
                if line.startswith("Requires-Dist: ")]
    assert not any("extra ==" in requirement for requirement in requires)  # no extras left
    assert {"fastapi>=0.115", "rasterio>=1.3.10", "pydantic>=2.7"} <= set(requires)
    assert not any(requirement.startswith(("typer", "docker", "apache-airflow", "conductor"))
                   for requirement in requires)
    assert "pesto-runtime = pesto_factory.runtime.cli:main" in entry_points
    assert "packager" not in entry_points and "apache_airflow_provider" not in entry_points


def test_the_runtime_pyproject_follows_the_project_one() -> None:
    with (REPO / "pyproject.toml").open("rb") as file:
        project = tomllib.load(file)
    trimmed = tomllib.loads(runtime_pyproject(project))
    assert trimmed["project"]["version"] == project["project"]["version"]
    assert trimmed["project"]["dependencies"] == [
        *project["project"]["dependencies"], *project["project"]["optional-dependencies"]["runtime"]]
    assert set(trimmed["tool"]["setuptools"]["package-dir"]) == {
        "pesto_factory.runtime", "pesto_factory.schemas"}
