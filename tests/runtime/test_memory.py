"""Bounded memory, with the bombs that broke it: a TIFF whose header claims 100000 x 100000
pixels, a DEFLATE TIFF of zeros, an algorithm allocating 2 GiB, a JSON body over its limit."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from tests.conftest import start_service
from tests.runtime.conftest import MISBEHAVING, NDVI
from tests.runtime.test_api import assert_error
from tests.runtime.test_jobs import wait_status

_MAX_IMAGE_BYTES = 128 << 20


@pytest.fixture(scope="module")
def bounded(tmp_path_factory):
    root = tmp_path_factory.mktemp("bombs")
    (root / "inputs").mkdir()
    service = start_service(NDVI, root / "state", env={
        "PESTO_INPUT_ROOTS": str(root / "inputs"), "PESTO_MAX_IMAGE_BYTES": str(_MAX_IMAGE_BYTES),
        "PESTO_MAX_JSON_BYTES": str(1 << 20)})
    service.root = root
    with service.client() as http:
        service.http = http
        yield service
    service.stop()


def test_a_header_claiming_100000_squared_pixels_is_refused_before_decoding(bounded) -> None:
    path = bounded.root / "inputs" / "claims-huge.tif"
    with rasterio.open(path, "w", driver="GTiff", width=100_000, height=100_000, count=4,
                       dtype="uint16", tiled=True, blockxsize=512, blockysize=512,
                       compress="deflate", sparse_ok=True):
        pass  # no tile written: a small file whose header claims 80 GB of pixels
    assert path.stat().st_size < 2 << 20
    body = assert_error(bounded.http.post("/process", json={"image": path.as_uri()}), 413,
                        contains="PESTO_MAX_PIXELS")
    assert "claims-huge.tif" in body["message"] and "100000 x 100000" in body["message"]


def test_a_deflate_tiff_of_zeros_is_refused_before_decoding(bounded) -> None:
    path = bounded.root / "inputs" / "zeros.tif"
    zeros = np.zeros((4, 1024, 8192), dtype="uint8")
    with rasterio.open(path, "w", driver="GTiff", width=8192, height=8192, count=4,
                       dtype="uint8", tiled=True, compress="deflate") as dst:
        for row in range(0, 8192, 1024):
            dst.write(zeros, window=Window(0, row, 8192, 1024))
    assert path.stat().st_size < 4 << 20  # 256 MiB of pixels once decoded
    body = assert_error(bounded.http.post("/process", json={"image": path.as_uri()}), 413,
                        contains=f"PESTO_MAX_IMAGE_BYTES={_MAX_IMAGE_BYTES}")
    assert "zeros.tif" in body["message"]


def test_a_json_body_over_its_limit_is_413(bounded) -> None:
    padding = "A" * (2 << 20)
    assert_error(bounded.http.post("/process", json={"image": padding}), 413,
                 contains="PESTO_MAX_JSON_BYTES")


@pytest.mark.slow
def test_a_worker_over_its_memory_limit_fails_the_job_and_is_replaced(service_factory) -> None:
    service = service_factory(MISBEHAVING, env={"PESTO_WORKERS": "1",
                                                "PESTO_WORKER_MEMORY": str(512 << 20)})
    with service.client() as http:
        before = http.post("/process", json={"mode": "ok"}).json()["pid"]
        job = http.post("/jobs", json={"mode": "allocate", "megabytes": 2048, "seconds": 60})
        failed = wait_status(http, job.json()["jobId"], "FAILED", "SUCCEEDED")
        assert failed["status"] == "FAILED", failed
        assert failed["message"].startswith("out of memory: limit 536870912 bytes (512 MiB)")
        after = http.post("/process", json={"mode": "ok"})
        assert after.status_code == 200 and after.json()["pid"] != before
