"""Profiles: overlays merged in the order given, lists replaced, `-p a b` and `-p a,b`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pesto_factory.packager.cli._common import expand_profile_args, split_profiles
from pesto_factory.runtime.project import ServiceProject

from tests.packager.conftest import run_cli, write_json


@pytest.fixture
def profiled(ndvi: Path) -> Path:
    api, build = ndvi / "pesto" / "api", ndvi / "pesto" / "build"
    write_json(api / "description.dl.json", {
        "title": "NDVI (dl)", "keywords": ["dl"], "resources": {"ram": 4096}})
    write_json(api / "description.gpu.json", {"title": "NDVI (gpu)", "resources": {"gpu": 1}})
    write_json(build / "requirements.gpu.json", {"dockerBaseImage": "cuda:base", "gpu": True,
                                                  "pip": ["onnxruntime-gpu"]})
    write_json(build / "requirements.other.json", {"pip": ["never"]})
    return ndvi


def test_profiles_merge_in_the_order_given(profiled: Path) -> None:
    dl_gpu = ServiceProject.load(profiled, ("dl", "gpu"))
    gpu_dl = ServiceProject.load(profiled, ("gpu", "dl"))
    assert dl_gpu.description["title"] == "NDVI (gpu)"  # the last profile wins
    assert gpu_dl.description["title"] == "NDVI (dl)"
    # nested objects merge key by key: cpu from the base, ram from dl, gpu from gpu
    assert dl_gpu.description["resources"] == {"cpu": 1, "ram": 4096, "gpu": 1}
    # lists are replaced, not concatenated
    assert dl_gpu.description["keywords"] == ["dl"]
    assert dl_gpu.requirements["pip"] == ["onnxruntime-gpu"]
    assert dl_gpu.image_tag == "1.0.0-dl-gpu"
    assert dl_gpu.describe()["profiles"] == ["dl", "gpu"]


def test_profile_words_after_p_until_a_path_or_an_option(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    assert expand_profile_args(["-p", "dl", "gpu", "--no-image", str(project)]) == [
        "-p", "dl", "-p", "gpu", "--no-image", str(project)]
    assert expand_profile_args([str(project), "-p", "dl", str(project)]) == [
        str(project), "-p", "dl", str(project)]
    assert split_profiles(["dl,gpu", "x y", "dl"]) == ["dl", "gpu", "x", "y"]


@pytest.mark.parametrize("form", [["-p", "dl", "gpu"], ["-p", "dl", "-p", "gpu"],
                                  ["--profile", "dl,gpu"]])
def test_build_with_profiles_writes_the_merged_workspace(
        profiled: Path, workspace: Path, form: list[str]) -> None:
    done = run_cli("build", profiled, *form, "--no-image")
    assert done.returncode == 0, done.stderr
    build = workspace / "pesto" / "ndvi" / "1.0.0-dl-gpu"
    version = json.loads((build / "version.json").read_text())
    assert version["profiles"] == ["dl", "gpu"]
    service = json.loads((build / "service.json").read_text())
    assert service == ServiceProject.load(profiled, ("dl", "gpu")).describe()
    merged = json.loads((build / "config" / "build" / "requirements.json").read_text())
    assert merged["dockerBaseImage"] == "cuda:base" and merged["gpu"] is True
    shipped = sorted(p.name for p in (build / "context/service/pesto/build").iterdir())
    assert shipped == ["build.json", "requirements.gpu.json", "requirements.json"]
    dockerfile = (build / "context" / "Dockerfile").read_text()
    assert 'PESTO_PROFILES="dl,gpu"' in dockerfile
    assert "FROM cuda:base" in dockerfile
    assert 'io.pesto.gpu="true"' in dockerfile


def test_profiles_from_the_environment(profiled: Path, workspace: Path) -> None:
    done = run_cli("build", profiled, "--no-image", env={"PESTO_PROFILES": "dl gpu"})
    # run_cli drops an inherited PESTO_PROFILES, but an explicit one is kept
    assert done.returncode == 0, done.stderr
    assert (workspace / "pesto" / "ndvi" / "1.0.0-dl-gpu").is_dir()


def test_build_json_path_selects_the_project_and_its_profile(
        profiled: Path, workspace: Path) -> None:
    write_json(profiled / "pesto" / "build" / "build.gpu.json", {"version": "2.0.0"})
    done = run_cli("build", profiled / "pesto" / "build" / "build.gpu.json", "--no-image")
    assert done.returncode == 0, done.stderr
    assert (workspace / "pesto" / "ndvi" / "2.0.0-gpu" / "service.json").is_file()


def test_unknown_profile_is_one_clear_error(profiled: Path, workspace: Path) -> None:
    done = run_cli("build", profiled, "-p", "dl", "nope", "--no-image")
    assert done.returncode == 1
    assert "unknown profile 'nope'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not workspace.exists()
