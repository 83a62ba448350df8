"""The build workspace: describe, merged configs, version info, context, resources, list, run."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import rasterio
from pesto_factory.runtime.project import ServiceProject

from tests.packager.conftest import run_cli, write_json


@pytest.fixture
def http_files(tmp_path: Path) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving a folder."""
    root = tmp_path / "served"
    root.mkdir()
    (root / "weights.bin").write_bytes(b"\x00\x01weights")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_workspace_contents(ndvi: Path, workspace: Path, http_files: str) -> None:
    (ndvi / "models").mkdir()
    (ndvi / "models" / "small.onnx").write_bytes(b"onnx")
    (ndvi / "lib" / "helpers").mkdir(parents=True)
    (ndvi / "lib" / "helpers" / "__init__.py").write_text("X = 1\n")
    write_json(ndvi / "pesto" / "build" / "requirements.json", {
        "dockerBaseImage": "python:3.11-slim", "environments": {"OMP_NUM_THREADS": "1"},
        "requirements": {
            "model": {"from": "file://models/small.onnx", "to": "/opt/models"},
            "helpers": {"from": f"file://{ndvi}/lib", "to": "/opt/lib", "type": "python"},
            "weights": {"from": f"{http_files}/weights.bin"}}})
    done = run_cli("build", ndvi, "--no-image")
    assert done.returncode == 0, done.stderr
    build = workspace / "pesto" / "ndvi" / "1.0.0"
    project = ServiceProject.load(ndvi)
    assert json.loads((build / "service.json").read_text()) == project.describe()
    version = json.loads((build / "version.json").read_text())
    assert version["version"] == "1.0.0" and version["profiles"] == []
    assert version["runtime"] and version["built"].endswith("+00:00")
    assert json.loads((build / "config/api/config.json").read_text()) == project.config
    context = build / "context"
    assert (context / "resources/model/small.onnx").read_bytes() == b"onnx"
    assert (context / "resources/helpers/helpers/__init__.py").is_file()
    assert (context / "resources/weights/weights.bin").read_bytes() == b"\x00\x01weights"
    assert (context / "service/algorithm/process.py").is_file()
    assert not (context / "service/pesto/tests").exists()  # test data stays out of the image
    assert list((context / "wheels/runtime").glob("pesto_factory-*.whl"))
    dockerfile = (context / "Dockerfile").read_text()
    assert "COPY resources/model/ /opt/models/" in dockerfile
    assert "COPY resources/weights/ /opt/weights/" in dockerfile
    assert 'PYTHONPATH="/opt/lib"' in dockerfile and 'OMP_NUM_THREADS="1"' in dockerfile
    assert not (build / "image.json").exists()  # no image was built
    assert not [p for p in build.parent.iterdir() if p.name.startswith(".")]  # no temp left


def test_missing_resource_leaves_no_workspace(ndvi: Path, workspace: Path) -> None:
    write_json(ndvi / "pesto" / "build" / "requirements.json", {
        "dockerBaseImage": "x", "requirements": {"m": {"from": "file:///no/such/model"}}})
    done = run_cli("build", ndvi, "--no-image")
    assert done.returncode == 1 and "resource file:///no/such/model" in done.stderr
    assert not (workspace / "pesto" / "ndvi" / "1.0.0").exists()
    assert not [p for p in (workspace / "pesto" / "ndvi").iterdir()]


def test_list_shows_builds(ndvi: Path, workspace: Path) -> None:
    assert "no builds" in run_cli("list").stdout
    write_json(ndvi / "pesto" / "api" / "description.fast.json", {"title": "fast"})
    for args in ([], ["-p", "fast"]):
        assert run_cli("build", ndvi, "--no-image", *args).returncode == 0
    listed = json.loads(run_cli("list", "--json").stdout)
    assert [(b["image"], b["profiles"], b["image_id"]) for b in listed] == [
        ("pesto/ndvi:1.0.0", [], None), ("pesto/ndvi:1.0.0-fast", ["fast"], None)]
    table = run_cli("list").stdout
    assert "pesto/ndvi:1.0.0-fast" in table and "not built" in table


def test_run_writes_a_case_layout(ndvi: Path, tmp_path: Path) -> None:
    inputs = ndvi / "pesto" / "tests" / "field" / "input"
    out = tmp_path / "out"
    done = run_cli("run", ndvi, inputs, "--output", out)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["mean.float", "ndvi.tif"]
    with rasterio.open(out / "ndvi.tif") as result, rasterio.open(inputs / "image.tif") as src:
        assert result.crs == src.crs and result.transform == src.transform
        assert result.dtypes[0] == "float32"
    # a saved result is a valid expected output: the case passes against it
    import shutil

    shutil.rmtree(inputs.parent / "output")
    shutil.copytree(out, inputs.parent / "output")
    assert run_cli("test", ndvi).returncode == 0
    bad = run_cli("run", ndvi, json.dumps({"image": "x"}))
    assert bad.returncode == 1 and "answered 4" in bad.stderr and "Traceback" not in bad.stderr
    summary = run_cli("run", ndvi, inputs)
    assert "<image," in summary.stdout and '"mean"' in summary.stdout
