"""Sources: where a tile's pixels come from, described so that a worker process can get them.

An input of the engine is an array in this process, an array in shared memory, or a raster
file (GeoTIFF/COG or anything GDAL reads). Each kind is a small frozen value with a `read`
method returning the (bands, rows, cols) block under a window; the shared and file kinds are
cheap to pickle, so they are what travels to workers. Outputs use the same array kinds as
*targets* that a worker writes its core into.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pesto_factory.runtime.raster.errors import NotARasterError, RasterInputError
from pesto_factory.runtime.raster.shared import SharedArraySpec
from pesto_factory.runtime.raster.windows import Window

__all__ = ["RasterInfo", "raster_info", "LocalArray", "SharedArray", "RasterFile",
           "Source", "as_source", "common_size", "GDAL_WORKER_CACHE_MB"]

#: GDAL block cache of a process reading tiles: enough for the blocks one tile touches, small
#: enough that worker memory stays bounded (GDAL's default is 5 % of RAM per process).
GDAL_WORKER_CACHE_MB = 128


@dataclass(frozen=True)
class RasterInfo:
    """What the engine needs to know about a raster file, read from its header only."""

    path: str
    height: int
    width: int
    count: int
    dtype: str
    crs: Any = None  # rasterio.crs.CRS or None
    transform: Any = None  # affine.Affine
    nodata: float | None = None
    block_shape: tuple[int, int] = (1, 1)  # (rows, cols) of the file's internal blocks


def raster_info(path: str | os.PathLike) -> RasterInfo:
    """Header of a raster file; a clear `NotARasterError` naming the file if GDAL can't open it."""
    import rasterio
    from rasterio.errors import RasterioError

    path = str(path)
    if not Path(path).exists() and "://" not in path and not path.startswith("/vsi"):
        raise NotARasterError("no such file", source=path)
    try:
        with rasterio.open(path) as dataset:
            dtypes = set(dataset.dtypes)
            if len(dtypes) != 1:
                raise RasterInputError(f"bands have different data types {sorted(dtypes)}",
                                       source=path)
            return RasterInfo(
                path=path, height=dataset.height, width=dataset.width, count=dataset.count,
                dtype=np.dtype(dataset.dtypes[0]).str, crs=dataset.crs,
                transform=dataset.transform, nodata=dataset.nodata,
                block_shape=tuple(dataset.block_shapes[0]))
    except RasterioError as exc:
        raise NotARasterError(f"not a raster GDAL can read ({exc})", source=path) from None


@dataclass(frozen=True, eq=False)
class LocalArray:
    """An array of this process: used when everything runs in one process (no copy)."""

    array: np.ndarray = field(repr=False)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.array.shape  # type: ignore[return-value]

    def read(self, window: Window) -> np.ndarray:
        return self.array[(slice(None), *window.slices)]

    def target(self) -> np.ndarray:
        return self.array


@dataclass(frozen=True)
class SharedArray:
    """An array in a shared memory segment, mapped by name in the worker that reads it."""

    spec: SharedArraySpec

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.spec.shape  # type: ignore[return-value]

    def read(self, window: Window) -> np.ndarray:
        return self.spec.map()[(slice(None), *window.slices)]

    def target(self) -> np.ndarray:
        return self.spec.map()


@dataclass(frozen=True)
class RasterFile:
    """A raster file read window by window, each worker decoding only what its tiles need."""

    info: RasterInfo

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.info.count, self.info.height, self.info.width

    def read(self, window: Window) -> np.ndarray:
        import rasterio
        from rasterio.errors import RasterioError

        try:
            with rasterio.Env(GDAL_CACHEMAX=GDAL_WORKER_CACHE_MB), \
                    rasterio.open(self.info.path) as dataset:
                return dataset.read(window=window.to_rasterio())
        except RasterioError as exc:
            raise RasterInputError(f"cannot read window {window}: {exc}",
                                   source=self.info.path) from None


Source = LocalArray | SharedArray | RasterFile


def as_source(value: Any, position: int) -> LocalArray | RasterFile:
    """An engine input as a source: arrays become (bands, rows, cols), paths are opened."""
    if isinstance(value, (LocalArray, RasterFile)):
        return value
    if isinstance(value, RasterInfo):
        return RasterFile(value)
    if isinstance(value, (str, os.PathLike)):
        return RasterFile(raster_info(value))
    if isinstance(value, np.ndarray):
        if value.ndim == 2:
            value = value[np.newaxis]
        if value.ndim != 3 or 0 in value.shape:
            raise RasterInputError(
                f"input {position} must be a non-empty (bands, rows, cols) array, "
                f"got shape {value.shape}")
        return LocalArray(value)
    raise RasterInputError(
        f"input {position} must be a NumPy array or a raster path, got {type(value).__name__}")


def _describe(source: LocalArray | RasterFile, position: int) -> str:
    if isinstance(source, RasterFile):
        return f"input {position} ({source.info.path})"
    return f"input {position} (array)"


def common_size(sources: list[LocalArray | RasterFile]) -> tuple[int, int]:
    """(rows, cols) shared by all inputs, or a `RasterInputError` naming the odd one out."""
    if not sources:
        raise RasterInputError("at least one input image is needed")
    size = sources[0].shape[1:]
    for position, source in enumerate(sources[1:], start=1):
        if source.shape[1:] != size:
            raise RasterInputError(
                f"{_describe(source, position)} is {source.shape[1]} x {source.shape[2]} pixels "
                f"but {_describe(sources[0], 0)} is {size[0]} x {size[1]}: "
                "all inputs must have the same size")
    return size[0], size[1]
