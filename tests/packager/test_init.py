"""init: a fresh project is complete, consistent, and passes its own tests unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pesto_factory.runtime.project import ServiceProject

from tests.packager.conftest import run_cli


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("init") / "Cloud-Mask"
    done = run_cli("init", target, "--defaults")
    assert done.returncode == 0, done.stderr
    return target


def test_layout(fresh: Path) -> None:
    for relative in (
            "algorithm/process.py", "algorithm/input_output.py", "pesto/api/description.json",
            "pesto/api/input_schema.json", "pesto/api/output_schema.json",
            "pesto/api/config.json", "pesto/build/build.json", "pesto/build/requirements.json",
            "pesto/build/requirements.gpu.json", "pesto/tests/expected_describe.json",
            "pesto/tests/threshold/input/image.tif", "pesto/tests/threshold/output/mask.tif",
            "tests/test_service.py", "README.md"):
        assert (fresh / relative).is_file(), relative
    assert not list(fresh.rglob("*.j2"))
    build = json.loads((fresh / "pesto/build/build.json").read_text())
    assert build == {"name": "cloud-mask", "version": "1.0.0"}


def test_schemas_and_describe_agree_with_the_code(fresh: Path) -> None:
    done = run_cli("schemagen", fresh)
    assert done.returncode == 0
    assert done.stderr.count("unchanged") == 2, done.stderr
    expected = json.loads((fresh / "pesto/tests/expected_describe.json").read_text())
    assert expected == ServiceProject.load(fresh).describe()


def test_gpu_profile(fresh: Path) -> None:
    gpu = ServiceProject.load(fresh, ("gpu",))
    assert gpu.requirements["gpu"] is True
    assert gpu.requirements["dockerBaseImage"].startswith("nvidia/cuda:")
    assert gpu.describe()["resources"]["gpu"] == 1
    assert gpu.image_tag == "1.0.0-gpu"


def test_fresh_project_passes_its_tests_locally(fresh: Path) -> None:
    done = run_cli("test", fresh, "--local")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS case threshold" in done.stdout and "PASS describe" in done.stdout
    gpu = run_cli("test", fresh, "-p", "gpu")
    assert gpu.returncode == 0, gpu.stdout + gpu.stderr


def test_init_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    done = run_cli("init", tmp_path, "--defaults")
    assert done.returncode == 1 and "not empty" in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_custom_template(tmp_path: Path, fresh: Path) -> None:
    import shutil

    template = tmp_path / "template"
    shutil.copytree(fresh, template, ignore=shutil.ignore_patterns("pesto", "__pycache__"))
    shutil.copytree(fresh / "pesto", template / "pesto",
                    ignore=shutil.ignore_patterns("expected_describe.json", "build.json"))
    (template / "pesto/build/build.json.j2").write_text(
        '{"name": "team/{{ name }}", "version": "0.{{ version }}"}\n')
    done = run_cli("init", tmp_path / "made", "--defaults", "--template", template)
    assert done.returncode == 0, done.stderr
    project = ServiceProject.load(tmp_path / "made")
    assert project.build == {"name": "team/made", "version": "0.1.0.0"}


def test_the_projects_own_pytest_check(fresh: Path) -> None:
    """tests/test_service.py, what the user's CI runs, passes on a fresh project."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(fresh / "tests")], capture_output=True, text=True, cwd=fresh,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
