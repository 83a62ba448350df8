"""Bad input gives one clear message naming the problem, exit 1, and no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.packager.conftest import run_cli, write_json


def _fails_with(done, *fragments: str) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    for fragment in fragments:
        assert fragment in done.stderr, done.stderr


def test_missing_project(tmp_path: Path) -> None:
    _fails_with(run_cli("build", tmp_path / "nowhere", "--no-image"),
                str(tmp_path / "nowhere"), "no such project folder")


def test_folder_without_pesto_files(tmp_path: Path) -> None:
    _fails_with(run_cli("test", tmp_path), "not a service project")


def test_missing_required_file(ndvi: Path) -> None:
    (ndvi / "pesto" / "api" / "description.json").unlink()
    _fails_with(run_cli("build", ndvi, "--no-image"), "description.json", "file not found")


def test_invalid_json_names_line_and_column(ndvi: Path) -> None:
    path = ndvi / "pesto" / "build" / "requirements.json"
    path.write_text('{\n  "dockerBaseImage": "x",\n  "pip": [,]\n}\n')
    _fails_with(run_cli("build", ndvi, "--no-image"), str(path), "line 3, column")


@pytest.mark.parametrize(("stem", "value", "pointer", "fault"), [
    ("build", {"name": "pesto/ndvi", "version": "1 0"}, "at /version", "does not match"),
    ("requirements", {"dockerBaseImage": "x", "pip": "numpy"}, "at /pip", "is not of type"),
    ("requirements", {"dockerBaseImage": "x", "requirements": {"m": {"from": "ftp://x"}}},
     "at /requirements/m/from", "does not match"),
])
def test_schema_errors_name_file_and_pointer(ndvi: Path, stem: str, value: dict, pointer: str,
                                             fault: str) -> None:
    path = ndvi / "pesto" / "build" / f"{stem}.json"
    write_json(path, value)
    _fails_with(run_cli("build", ndvi, "--no-image"), f"{path} {pointer}", fault)


def test_profile_overlay_breaking_the_schema_names_the_merged_file(ndvi: Path) -> None:
    write_json(ndvi / "pesto" / "api" / "description.bad.json", {"resources": {"cpu": 0}})
    _fails_with(run_cli("build", ndvi, "-p", "bad", "--no-image"),
                "description.json at /resources/cpu", "less than the minimum")


def test_unreachable_engine_names_docker_host(ndvi: Path, tmp_path: Path) -> None:
    host = f"unix://{tmp_path}/no-engine.sock"
    _fails_with(run_cli("build", ndvi, env={"DOCKER_HOST": host}),
                f"cannot reach the container engine at DOCKER_HOST={host}")
    _fails_with(run_cli("test", ndvi, "--image", env={"DOCKER_HOST": host}),
                f"DOCKER_HOST={host}")


def test_unknown_option_is_a_usage_error(ndvi: Path) -> None:
    done = run_cli("build", ndvi, "--frobnicate")
    assert done.returncode == 2 and "No such option" in done.stderr


def test_help_is_fast_to_import() -> None:
    """`packager --help` imports neither docker, rasterio, jinja2 nor httpx."""
    import subprocess
    import sys

    code = ("import sys; from pesto_factory.packager.cli import main; main(['--help']);"
            "print(sorted(m for m in ('docker', 'rasterio', 'jinja2', 'httpx')"
            " if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
