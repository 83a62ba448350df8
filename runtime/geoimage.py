"""A raster in memory with its georeferencing: what an algorithm receives and may return.

`data` is always (bands, rows, cols). `margin` says how many extra pixels were read around the
requested window on each side (top, left, bottom, right), so an algorithm that needed context
can crop its result back to the window with `core()`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

__all__ = ["GeoImage"]


@dataclass(frozen=True)
class GeoImage:
    data: np.ndarray
    crs: Any = None  # rasterio.crs.CRS or None for an image without georeferencing
    transform: Any = None  # affine.Affine of data's top-left pixel, or None
    nodata: float | int | None = None
    margin: tuple[int, int, int, int] = (0, 0, 0, 0)  # top, left, bottom, right
    band_names: tuple[str | None, ...] | None = None  # the file's band descriptions, if any

    def __post_init__(self) -> None:
        if not isinstance(self.data, np.ndarray):
            raise TypeError(f"GeoImage.data must be a numpy array, not {type(self.data).__name__}")
        if self.data.ndim == 2:
            object.__setattr__(self, "data", self.data[np.newaxis])
        if self.data.ndim != 3:
            raise ValueError(f"GeoImage.data must be (bands, rows, cols), got shape {self.data.shape}")
        if any(m < 0 for m in self.margin):
            raise ValueError(f"GeoImage.margin must be >= 0, got {self.margin}")

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.data.shape  # type: ignore[return-value]

    def core(self) -> GeoImage:
        """The requested window: data without its margin, transform moved to match."""
        top, left, bottom, right = self.margin
        rows, cols = self.data.shape[1:]
        data = self.data[:, top:rows - bottom, left:cols - right]
        transform = self.transform
        if transform is not None and (top or left):
            from affine import Affine

            transform = transform @ Affine.translation(left, top)
        return replace(self, data=data, transform=transform, margin=(0, 0, 0, 0))

    def with_data(self, data: np.ndarray, *, nodata: float | int | None = None) -> GeoImage:
        """Same georeferencing and margin, new pixels (e.g. an algorithm's result)."""
        return replace(self, data=data, nodata=nodata, band_names=None)
