"""Fixtures of the adapters' tests: spec files written on the fly, the test services' folders."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SERVICES = HERE / "services"
PIPELINES = HERE / "pipelines"
SQUARES = PIPELINES / "squares.yaml"


@pytest.fixture
def write_spec(tmp_path: Path):
    """`write_spec(yaml_text, name="spec.yaml")` -> path; project paths may use {services}."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).replace("{services}", str(SERVICES)))
        return path

    return write


@pytest.fixture(scope="session")
def describes() -> dict[str, dict]:
    """Describe documents of the test services, as their runtime serves them."""
    from pesto_factory.runtime.project import ServiceProject

    return {name: ServiceProject.load(SERVICES / name).describe()
            for name in ("split", "square", "sum")}
