"""NDVI band math: the smallest useful georeferenced service.

NDVI = (NIR - red) / (NIR + red), computed in float32 and returned with the input's CRS and
transform, so the output lays exactly over the scene.
"""

from __future__ import annotations

import numpy as np
from pesto_factory.runtime import GeoImage, report_progress
from pesto_factory.runtime.errors import UnprocessableInput


class Process:
    def on_start(self) -> None:
        """Called once per worker: a real algorithm loads its model here."""
        self.epsilon = np.float32(1e-6)

    def process(self, image: GeoImage, red_band: int = 3, nir_band: int = 4) -> dict:
        bands = image.data.shape[0]
        for name, band in (("red_band", red_band), ("nir_band", nir_band)):
            if not 1 <= band <= bands:
                raise UnprocessableInput(f"{name}={band} but the image has {bands} band(s)",
                                         hint=f"pick a band between 1 and {bands}")
        red = image.data[red_band - 1].astype(np.float32)
        nir = image.data[nir_band - 1].astype(np.float32)
        report_progress(50, "bands read")
        ndvi = (nir - red) / np.maximum(nir + red, self.epsilon)
        if image.nodata is not None:
            invalid = (image.data[red_band - 1] == image.nodata) | (image.data[nir_band - 1] == image.nodata)
            ndvi[invalid] = np.nan
        valid = ndvi[np.isfinite(ndvi)]
        mean = float(valid.mean()) if valid.size else None
        return {"ndvi": image.with_data(ndvi[np.newaxis], nodata=np.nan), "mean": mean}
