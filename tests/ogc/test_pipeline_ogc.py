"""The embedded runner calls OGC API - Processes steps: pygeoapi's, and a PESTO service's.

pygeoapi (PyPI; it installs beside the pinned constraints, no separate venv needed) serves its
hello-world process and a plugin of the tests' own (`pygeoapi_plugin.SceneProcessor`) under
uvicorn on 127.0.0.1; a pipeline chains them with the ndvi example project.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import rasterio
import yaml
from pesto_factory.adapters.client import OgcProcessClient, is_process_url
from pesto_factory.adapters.local import run_pipeline
from pesto_factory.adapters.pipeline import load_pipeline

from tests.conftest import EXAMPLES, REPO, free_port, wait_until

pytestmark = pytest.mark.slow


def _config(port: int, work: Path) -> dict:
    return {
        "server": {"bind": {"host": "127.0.0.1", "port": port},
                   "url": f"http://127.0.0.1:{port}", "mimetype": "application/json; charset=UTF-8",
                   "encoding": "utf-8", "language": "en-US", "limits": {"default_items": 10,
                                                                         "max_items": 50},
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                           "attribution": "OpenStreetMap"}},
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {"title": "test pygeoapi", "description": "OGC steps of a chain",
                               "keywords": ["test"], "url": "https://example.org",
                               "terms_of_service": "https://example.org/terms"},
            "license": {"name": "CC-BY 4.0", "url": "https://example.org/license"},
            "provider": {"name": "tests", "url": "https://example.org"},
            "contact": {"name": "tests", "email": "tests@example.org"}},
        "resources": {
            "hello-world": {"type": "process", "processor": {"name": "HelloWorld"}},
            "synthetic-scene": {"type": "process", "processor": {
                "name": "tests.ogc.pygeoapi_plugin.SceneProcessor"}},
        },
    }


@pytest.fixture(scope="module")
def pygeoapi(tmp_path_factory) -> Iterator[str]:
    """pygeoapi's own Starlette app under uvicorn on 127.0.0.1; yields its base URL."""
    from pygeoapi.openapi import generate_openapi_document

    work = tmp_path_factory.mktemp("pygeoapi")
    port = free_port()
    config = work / "pygeoapi-config.yml"
    config.write_text(yaml.safe_dump(_config(port, work)), encoding="utf-8")
    openapi = work / "pygeoapi-openapi.yml"
    openapi.write_text(generate_openapi_document(config, "yaml"), encoding="utf-8")
    env = {**os.environ, "PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi),
           "PYTHONPATH": str(REPO)}
    log = work / "pygeoapi.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "pygeoapi.starlette_app:APP", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        env=env, cwd=REPO, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"pygeoapi exited:\n{log.read_text(errors='replace')}")
        try:
            return httpx.get(f"{url}/processes", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(ready, timeout=60, what="pygeoapi")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_ogc_client_calls_pygeoapi_processes(pygeoapi, tmp_path):
    assert is_process_url(f"{pygeoapi}/processes/hello-world")
    assert not is_process_url(f"{pygeoapi}/api/v1")
    with OgcProcessClient(f"{pygeoapi}/processes/hello-world") as hello:
        assert hello.process({"name": "PESTO"}) == {"echo": "Hello PESTO!"}
    target = (tmp_path / "scene.tif").as_uri()
    with OgcProcessClient(f"{pygeoapi}/processes/synthetic-scene") as scene:
        assert scene.process({"href": target, "size": 32}) == {"scene": target}


def _spec(path: Path, document: dict) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def test_a_pygeoapi_process_is_one_step_of_a_chain(pygeoapi, tmp_path):
    spec = _spec(tmp_path / "ogc-chain.yaml", {
        "name": "ogc-chain",
        "inputs": {"target": {"type": "string"}},
        "services": {"hello": {"url": f"{pygeoapi}/processes/hello-world"},
                     "scene": {"url": f"{pygeoapi}/processes/synthetic-scene"},
                     "ndvi": {"project": str(EXAMPLES / "ndvi")}},
        "steps": [
            {"id": "hello", "service": "hello", "inputs": {"name": "chain"}},
            {"id": "scene", "service": "scene",
             "inputs": {"href": "${inputs.target}", "size": 48, "seed": 2}},
            {"id": "ndvi", "service": "ndvi", "inputs": {"image": "${scene.scene}"}},
        ],
        "outputs": {"greeting": "${hello.echo}", "ndvi": "${ndvi.ndvi}",
                    "mean": "${ndvi.mean}"},
    })
    target = tmp_path / "inputs" / "scene.tif"
    target.parent.mkdir()
    summary = run_pipeline(load_pipeline(spec), {"target": target.as_uri()},
                           output_dir=tmp_path / "run", start_timeout=120)
    assert summary.status == "SUCCEEDED"
    assert summary.outputs["greeting"] == "Hello chain!"
    with rasterio.open(tmp_path / "run" / "ndvi.tif") as src:
        assert src.shape == (48, 48) and src.dtypes[0] == "float32"
    assert isinstance(summary.outputs["mean"], float)


def test_a_pesto_service_called_through_its_ogc_api(ndvi, ogc_root, tmp_path):
    scene = (ogc_root / "inputs" / "scene.tif").as_uri()
    spec = _spec(tmp_path / "ogc-pesto.yaml", {
        "name": "ogc-pesto",
        "inputs": {"scene": {"type": "Image"}},
        "services": {"ndvi": {"url": f"{ndvi.url}/processes/ndvi"}},
        "steps": [{"id": "ndvi", "service": "ndvi", "inputs": {"image": "${inputs.scene}"}}],
        "outputs": {"ndvi": "${ndvi.ndvi}", "mean": "${ndvi.mean}"},
    })
    summary = run_pipeline(load_pipeline(spec), {"scene": scene}, output_dir=tmp_path / "run")
    expected = httpx.post(f"{ndvi.url}/api/v1/process", json={"image": scene}, timeout=60).json()
    assert summary.outputs["mean"] == expected["mean"]
    with rasterio.open(tmp_path / "run" / "ndvi.tif") as got, \
            rasterio.open(expected["ndvi"].removeprefix("file://")) as want:
        np.testing.assert_array_equal(got.read(), want.read())
