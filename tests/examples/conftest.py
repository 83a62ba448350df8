"""Fixtures of the example algorithms' tests: the cloud-detection project on sys.path, real data.

The service project's `algorithm` package is imported the way the runtime imports it: with the
project folder (examples/cloud-detection) on sys.path.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
CLOUD_DETECTION = REPO / "examples" / "cloud-detection"
if str(CLOUD_DETECTION) not in sys.path:
    sys.path.insert(0, str(CLOUD_DETECTION))


@pytest.fixture(scope="session")
def s2_crop() -> tuple[np.ndarray, np.ndarray]:
    """The real Sentinel-2 crop: (6, 512, 512) float32 reflectance, reference mask (our codes)."""
    from packager.samples import default_crop_path, load_sentinel2_crop

    path = default_crop_path()
    if not path.is_file():
        pytest.skip(f"real Sentinel-2 crop not found at {path} (set PESTO_SENTINEL2_CROP)")
    return load_sentinel2_crop(path)


def _tiled(detect, image: np.ndarray, *, tile: int, margin: int, **kwargs) -> np.ndarray:
    """Run `detect` tile by tile, each read with `margin` context (clipped at the image edges),
    and paste the cores: plain slicing, the same geometry as the raster engine's grids."""
    rows, cols = image.shape[1:]
    out = np.full((rows, cols), 254, dtype=np.uint8)
    for r0 in range(0, rows, tile):
        for c0 in range(0, cols, tile):
            r1, c1 = min(r0 + tile, rows), min(c0 + tile, cols)
            rr0, cc0 = max(r0 - margin, 0), max(c0 - margin, 0)
            rr1, cc1 = min(r1 + margin, rows), min(c1 + margin, cols)
            sub_kwargs = {k: (v[rr0:rr1, cc0:cc1] if isinstance(v, np.ndarray) else v)
                          for k, v in kwargs.items()}
            block = detect(image[:, rr0:rr1, cc0:cc1], **sub_kwargs)
            out[r0:r1, c0:c1] = block[r0 - rr0:r1 - rr0, c0 - cc0:c1 - cc0]
    return out


@pytest.fixture
def tiled():
    """`tiled(detect, image, tile=, margin=, **per_pixel_kwargs)`: a tile-by-tile run."""
    return _tiled
