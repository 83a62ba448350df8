"""Contrast stretch to 8 bits: one image in, one image out.

The smallest service of that shape, so that a raw image can be POSTed as the body and the
answer read back as raw GeoTIFF bytes (`Accept: image/tiff`). Each band is stretched linearly
between its `low` and `high` percentiles (of the pixels with data) onto 1..255; 0 is nodata.
"""

from __future__ import annotations

import numpy as np
from pesto_factory.runtime import GeoImage


class Process:
    def process(self, image: GeoImage, low: float = 2.0, high: float = 98.0) -> dict:
        if not 0 <= low < high <= 100:
            raise ValueError(f"need 0 <= low < high <= 100, got low={low} high={high}")
        data = image.data.astype(np.float64)
        valid = np.isfinite(data)
        if image.nodata is not None and not np.isnan(image.nodata):
            valid &= image.data != image.nodata
        out = np.zeros(data.shape, dtype=np.uint8)
        for band, (values, ok) in enumerate(zip(data, valid, strict=True)):
            if not ok.any():
                continue
            lo, hi = np.percentile(values[ok], [low, high])
            scaled = (values - lo) / max(hi - lo, 1e-12) * 254 + 1
            out[band][ok] = np.clip(np.round(scaled[ok]), 1, 255).astype(np.uint8)
        return {"stretched": image.with_data(out, nodata=0)}
