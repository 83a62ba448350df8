"""The service's algorithm: a threshold mask of one band of an image.

Replace the body of `process` with your own algorithm. The runtime calls `on_start` once per
worker process, then `process` once per request with the request's inputs as keyword arguments
(images as `runtime.GeoImage`: pixels as a (bands, rows, cols) numpy array plus CRS and
transform). Returned GeoImages are written as GeoTIFFs with their georeferencing.
"""

from __future__ import annotations

import numpy as np
from pesto_factory.runtime import GeoImage


class Process:
    def on_start(self) -> None:
        """Load models, lookup tables and the like here: once per worker, not per request."""

    def process(self, image: GeoImage, threshold: float = 0.5, band: int = 1) -> dict:
        bands = image.data.shape[0]
        if not 1 <= band <= bands:
            raise ValueError(f"band={band} but the image has {bands} band(s)")
        mask = (image.data[band - 1] > threshold).astype(np.uint8)
        return {"mask": image.with_data(mask[np.newaxis]), "fraction": float(mask.mean())}
