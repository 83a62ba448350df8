"""Shared helpers of the packager tests: the CLI as a real subprocess, project copies."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
NDVI = REPO / "examples" / "ndvi"


def run_cli(*args: object, env: dict[str, str] | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`python -m pesto_factory.packager ARGS` with wide, colourless output (what a user's terminal shows)."""
    environment = {key: value for key, value in os.environ.items() if key != "PESTO_PROFILES"}
    environment.update({"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb", **(env or {})})
    return subprocess.run([sys.executable, "-m", "pesto_factory.packager", *map(str, args)],
                          capture_output=True, text=True, env=environment, timeout=timeout,
                          check=False)


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2), encoding="utf-8")


def copy_project(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


@pytest.fixture(scope="session", autouse=True)
def runtime_wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The runtime's wheel, built once per session (PESTO_RUNTIME_WHEEL for every build)."""
    from pesto_factory.packager.wheels import build_runtime_wheel

    wheel = build_runtime_wheel(tmp_path_factory.mktemp("runtime-wheel"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PESTO_RUNTIME_WHEEL", str(wheel))
        yield wheel


@pytest.fixture
def ndvi(tmp_path: Path) -> Path:
    """A private copy of examples/ndvi, free to modify."""
    return copy_project(NDVI, tmp_path / "ndvi")


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "workspace"
    monkeypatch.setenv("PESTO_WORKSPACE", str(path))
    return path
