"""examples/stretch, the one-image-in, one-image-out example: its cases, and the raw body
round trip the README shows (`Content-Type: application/octet-stream`, `Accept: image/tiff`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.io import MemoryFile

from tests.conftest import EXAMPLES
from tests.packager.conftest import run_cli

pytestmark = pytest.mark.slow
STRETCH = EXAMPLES / "stretch"


def test_its_cases_and_describe_pass() -> None:
    result = run_cli("test", STRETCH, "--local")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all 2 check(s) passed" in result.stdout


def test_a_raw_image_in_gives_raw_geotiff_bytes_out(service_factory, tmp_path: Path) -> None:
    tile = STRETCH / "pesto/tests/scene/input/image.tif"
    service = service_factory(STRETCH)
    with service.client() as client:
        response = client.post("/process", content=tile.read_bytes(),
                               headers={"Content-Type": "application/octet-stream",
                                        "Accept": "image/tiff"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("image/tiff")
    with MemoryFile(response.content) as memory, memory.open() as out, rasterio.open(tile) as src:
        assert (out.count, out.dtypes[0], out.crs, out.transform) == \
            (src.count, "uint8", src.crs, src.transform)
        data = out.read()
    assert data.min() >= 1 and data.max() == 255 and np.unique(data).size > 100
