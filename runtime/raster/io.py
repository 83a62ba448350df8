"""Raster files in and out: windowed reads of GeoTIFF/COG, lossless atomic writes.

A service given an ImageRef {href, window, margin} reads only that window plus its margin
(`read_window`), or a tile of a grid (`read_tile`); windows reaching past the raster are
clipped, and the result says how much margin was really read. `write_raster` keeps what makes
a result usable downstream, dtype, CRS, transform and nodata, through the runtime's one
GeoTIFF writer (`imageio.write_geotiff`: temporary name renamed on success, so a crash never
leaves a half-written file under the final name).
`run_filter_to_files` chains both around `run_filter`: files in, files out, the inputs read
window by window inside the workers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pesto_factory.runtime.geoimage import GeoImage
from pesto_factory.runtime.raster.errors import RasterInputError, TilingError
from pesto_factory.runtime.raster.filter import OutputSpec, run_filter
from pesto_factory.runtime.raster.shared import release
from pesto_factory.runtime.raster.sources import RasterInfo, raster_info
from pesto_factory.runtime.raster.windows import Tile, Window

__all__ = ["read_window", "read_tile", "write_raster", "run_filter_to_files"]

logger = logging.getLogger(__name__)

Driver = Literal["GTiff", "COG"]


def _read(path: str | os.PathLike, core: Window, area: Window,
          bands: Sequence[int] | None) -> GeoImage:
    import rasterio
    from rasterio.errors import RasterioError

    info = raster_info(path)
    inside = area.clip(info.height, info.width)
    core = core.clip(info.height, info.width)
    if core.width == 0 or core.height == 0:
        raise TilingError("window", area,
                          f"inside the {info.height} x {info.width} raster {info.path}")
    indexes = list(bands) if bands is not None else None
    try:
        with rasterio.open(info.path) as dataset:
            data = dataset.read(indexes=indexes, window=inside.to_rasterio())
            transform = dataset.window_transform(inside.to_rasterio())
    except (RasterioError, IndexError) as exc:
        raise RasterInputError(f"cannot read window {inside}: {exc}", source=info.path) from None
    inner = core.relative_to(inside)
    margin = (inner.row_off, inner.col_off,
              inside.height - inner.row_stop, inside.width - inner.col_stop)
    return GeoImage(data, crs=info.crs, transform=transform, nodata=info.nodata, margin=margin)


def read_window(path: str | os.PathLike, window: Window, *, margin: int = 0,
                bands: Sequence[int] | None = None) -> GeoImage:
    """`window` of a raster plus up to `margin` pixels around it, clipped at the borders.

    The GeoImage's `margin` is what was actually read on each side; its `core()` is the window.
    `bands` are 1-based band numbers (default: all).
    """
    if isinstance(margin, bool) or not isinstance(margin, int) or margin < 0:
        raise TilingError("margin", margin, "an integer >= 0")
    return _read(path, window, window.expand(margin), bands)


def read_tile(path: str | os.PathLike, tile: Tile, *,
              bands: Sequence[int] | None = None) -> GeoImage:
    """A tile's read window of a raster (margin as in the tile's grid)."""
    return _read(path, tile.core, tile.read, bands)


def write_raster(path: str | os.PathLike, data: np.ndarray, *, crs: Any = None,
                 transform: Any = None, nodata: float | None = None, driver: Driver = "GTiff",
                 compress: str | None = "auto", level: int | None = None) -> Path:
    """Write (bands, rows, cols) `data` losslessly to `path` (atomically: temp name, rename).

    The runtime's one GeoTIFF writer (`imageio.write_geotiff`) with the tiling engine's layout:
    GTiff tiled 512 x 512; COG adds overviews (nearest for integer data). Compression is
    lossless: `compress` "auto" is the measured default (ZSTD level 1, a horizontal predictor
    for integers), None stores the pixels as they are. Booleans are stored as uint8 0/1 and
    float16 as float32, the nearest types GeoTIFF has.
    """
    from pesto_factory.runtime.imageio.writing import write_geotiff
    from rasterio.errors import RasterioError

    path = Path(path)
    if driver not in ("GTiff", "COG"):
        raise TilingError("driver", driver, "'GTiff' or 'COG'")
    if not path.parent.is_dir():
        raise RasterInputError("the output folder does not exist", source=str(path))
    try:
        written = write_geotiff(path, data, crs=crs, transform=transform, nodata=nodata,
                                driver=driver, codec=compress or "none", level=level,
                                overviews=driver == "COG")
    except (TypeError, ValueError, RasterioError) as exc:
        raise RasterInputError(f"cannot write the raster: {exc}", source=str(path)) from None
    logger.info("wrote %s (%s, %s)", path, data.dtype, "x".join(map(str, np.shape(data))))
    return written


def _reference(infos: list[RasterInfo | np.ndarray]) -> RasterInfo:
    for info in infos:
        if isinstance(info, RasterInfo):
            return info
    raise RasterInputError("run_filter_to_files needs at least one raster file among its inputs "
                           "(it gives the outputs their georeferencing)")


def run_filter_to_files(
    func: Callable[[list[np.ndarray]], Any],
    inputs: Sequence[str | os.PathLike | np.ndarray],
    output_paths: Sequence[str | os.PathLike],
    *,
    margin: int,
    outputs: Sequence[OutputSpec] | None = None,
    driver: Driver = "GTiff",
    compress: str | None = "auto",
    level: int | None = None,
    **options: Any,
) -> list[Path]:
    """`run_filter` from raster files to raster files, one output file per output image.

    The outputs get the CRS and transform of the first input file. Nodata: the OutputSpec's
    when `outputs` are given, else the input's when the output has the input's dtype.
    Other keyword options are those of `run_filter`.
    """
    infos = [raster_info(v) if isinstance(v, (str, os.PathLike)) else v for v in inputs]
    reference = _reference(infos)
    if outputs is not None and len(outputs) != len(output_paths):
        raise TilingError("output_paths", list(map(str, output_paths)),
                          f"one path per declared output ({len(outputs)})")
    arrays = run_filter(func, infos, margin=margin, outputs=outputs, **options)
    written: list[Path] = []
    try:
        if len(arrays) != len(output_paths):
            raise TilingError("output_paths", list(map(str, output_paths)),
                              f"one path per output of {getattr(func, '__name__', 'func')} "
                              f"({len(arrays)})")
        for position, (array, target) in enumerate(zip(arrays, output_paths, strict=True)):
            if outputs is not None:
                nodata = outputs[position].nodata
            else:
                nodata = reference.nodata if array.dtype == np.dtype(reference.dtype) else None
            written.append(write_raster(target, array, crs=reference.crs,
                                        transform=reference.transform, nodata=nodata,
                                        driver=driver, compress=compress, level=level))
    except BaseException:
        for path in written:  # all outputs or none
            path.unlink(missing_ok=True)
        raise
    finally:
        for array in arrays:
            release(array)
    return written
