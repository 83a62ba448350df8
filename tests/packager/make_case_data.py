"""Regenerate the binary test-case files: the init template's case and examples/ndvi's case.

Expected outputs are computed here with numpy, independently of the algorithms, so a test
case checks the service rather than repeating it. Run: .venv/bin/python tests/packager/make_case_data.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from affine import Affine
from pesto_factory.runtime.imageio import write_geotiff

ROOT = Path(__file__).resolve().parents[2]
CRS = "EPSG:32631"
TRANSFORM = Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 4800000.0)


def write_tif(path: Path, data: np.ndarray, *, nodata: float | None = None) -> None:
    write_geotiff(path, data, crs=CRS, transform=TRANSFORM, nodata=nodata, driver="GTiff",
                  codec="none")


def threshold_case() -> None:
    case = ROOT / "packager/templates/project/pesto/tests/threshold"
    image = np.linspace(0.0, 1.0, 256, dtype=np.float32).reshape(1, 16, 16)
    threshold = 0.3
    mask = (image[0] > threshold).astype(np.uint8)[np.newaxis]
    write_tif(case / "input/image.tif", image)
    (case / "input/threshold.float").write_text(f"{threshold}\n")
    write_tif(case / "output/mask.tif", mask)
    (case / "output/fraction.float").write_text(f"{float(mask.mean())!r}\n")


def ndvi_case() -> None:
    case = ROOT / "examples/ndvi/pesto/tests/field"
    rng = np.random.default_rng(42)
    image = rng.integers(200, 4000, size=(4, 24, 32), dtype=np.uint16)
    image[:, :3, :3] = 0  # a nodata corner: NDVI is NaN there
    red, nir = image[2].astype(np.float32), image[3].astype(np.float32)
    ndvi = (nir - red) / np.maximum(nir + red, np.float32(1e-6))
    ndvi[(image[2] == 0) | (image[3] == 0)] = np.nan
    write_tif(case / "input/image.tif", image, nodata=0)
    write_tif(case / "output/ndvi.tif", ndvi[np.newaxis].astype(np.float32), nodata=float("nan"))
    (case / "output/mean.float").write_text(f"{float(np.nanmean(ndvi))!r}\n")


if __name__ == "__main__":
    threshold_case()
    ndvi_case()
