"""Local development commands let the runtime they start read the files the user passed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pesto_factory.packager.inputroots import payload_roots, runtime_env

from tests.packager.conftest import NDVI, run_cli
from tests.runtime.conftest import write_scene


def test_payload_roots_are_the_folders_of_file_uris_anywhere(tmp_path: Path) -> None:
    payload = {"image": "file:///in/a.tif", "tiles": [{"mask": {"href": "file:///out/m%20x.tif"}}],
               "other": "https://host/x.tif", "n": 3}
    assert payload_roots(payload) == [Path("/in"), Path("/out")]


def test_runtime_env_keeps_the_operators_roots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PESTO_INPUT_ROOTS", "/data,/more")
    assert runtime_env([Path("/in"), Path("/data")]) == {
        "PESTO_INPUT_ROOTS": os.pathsep.join(["/data", "/more", "/in"])}


@pytest.mark.slow
def test_run_reads_a_file_uri_of_the_payload_and_says_so(tmp_path: Path) -> None:
    scene = tmp_path / "scenes" / "scene.tif"
    scene.parent.mkdir()
    write_scene(scene)
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps({"image": scene.as_uri()}))
    result = run_cli("run", NDVI, payload, env={"PESTO_INPUT_ROOTS": ""})
    assert result.returncode == 0, result.stderr
    assert f"input roots: {scene.parent}" in result.stderr
    assert isinstance(json.loads(result.stdout)["mean"], float)


@pytest.mark.slow
def test_run_shows_the_hint_of_a_403(tmp_path: Path) -> None:
    result = run_cli("run", NDVI, '{"image": "https://elsewhere.example/x.tif"}',
                     env={"PESTO_REMOTE_HOSTS": "data.example"})
    assert result.returncode == 1
    assert "answered 403" in result.stderr
    assert "hint: the operator lists hosts (host or host:port) in PESTO_REMOTE_HOSTS" in result.stderr
