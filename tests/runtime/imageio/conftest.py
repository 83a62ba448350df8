"""Fixtures of the image I/O tests: real GeoTIFFs in tmp_path, a policy allowing one root."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runtime.imageio import imageio_fixtures
from tests.runtime.imageio.imageio_fixtures import ramp, write_tiff

root = imageio_fixtures.root
policy = imageio_fixtures.policy


@pytest.fixture
def scene(root: Path) -> Path:
    """A 3-band 60x80 uint16 GeoTIFF (tiled, like a COG) under the readable root."""
    return write_tiff(root / "scene.tif", ramp(), tiled=True, blockxsize=16, blockysize=16,
                      nodata=0)
