"""Helpers of the image I/O tests: real GeoTIFFs written with plain rasterio, not the code under
test, and a readable root with its input policy (fixtures the payload tests share)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from pesto_factory.runtime.imageio import InputPolicy
from rasterio.transform import from_origin

TRANSFORM = from_origin(600_000.0, 5_000_000.0, 10.0, 10.0)


def ramp(bands: int = 3, rows: int = 60, cols: int = 80, dtype: str = "uint16") -> np.ndarray:
    """Pixels that tell where they come from: value = band * 10000 + row * 100 + col."""
    b, r, c = np.meshgrid(np.arange(bands), np.arange(rows), np.arange(cols), indexing="ij")
    return (b * 10_000 + r * 100 + c).astype(dtype)


def write_tiff(path: Path, data: np.ndarray, **profile) -> Path:
    """A GeoTIFF written by rasterio itself (not by the code under test)."""
    options = {"driver": "GTiff", "crs": "EPSG:32632", "transform": TRANSFORM, **profile}
    with rasterio.open(path, "w", count=data.shape[0], height=data.shape[1],
                       width=data.shape[2], dtype=data.dtype, **options) as dst:
        dst.write(data)
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A readable input root inside the test's tmp_path."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    return folder


@pytest.fixture
def policy(root: Path) -> InputPolicy:
    return InputPolicy(readable_roots=(root,))
