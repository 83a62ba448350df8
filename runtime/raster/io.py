"""Raster files in and out: windowed reads of GeoTIFF/COG, lossless atomic writes.

A service given an ImageRef {href, window, margin} reads only that window plus its margin
(`read_window`), or a tile of a grid (`read_tile`); windows reaching past the raster are
clipped, and the result says how much margin was really read. `write_raster` keeps what makes
a result usable downstream, dtype, CRS, transform and nodata, and writes to a temporary name
renamed on success, so a crash never leaves a half-written file under the final name.
`run_filter_to_files` chains both around `run_filter`: files in, files out, the inputs read
window by window inside the workers.
"""

from __future__ import annotations

import logging
import os
import uuid
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


#: Deflate/zstd effort. Level 1 writes a smoothed Sentinel-2 band ~30x faster than GDAL's
#: default 6 (0.6 s vs 17 s for 10980 x 10980 uint16 here) for files ~6 % larger.
DEFAULT_LEVEL = 1


def _creation_options(dtype: np.dtype, driver: Driver, compress: str | None,
                      level: int | None) -> dict[str, Any]:
    options: dict[str, Any] = {"num_threads": "ALL_CPUS"}
    method = (compress or "").lower()
    if method:
        options["compress"] = compress
        if method in ("deflate", "lzw", "zstd"):
            if dtype.kind in "iu":
                options["predictor"] = 2
            elif dtype.kind == "f" and dtype.itemsize >= 4:
                options["predictor"] = 3
        if level is not None and method in ("deflate", "zstd"):
            key = "level" if driver == "COG" else {"deflate": "zlevel", "zstd": "zstd_level"}[method]
            options[key] = level
    if driver == "COG":
        options["blocksize"] = 512
        options["resampling"] = "nearest" if dtype.kind in "iub" else "average"
    else:
        options.update(tiled=True, blockxsize=512, blockysize=512, bigtiff="if_safer")
    return options


def _storable(data: np.ndarray, path: Path) -> np.ndarray:
    """`data` as (bands, rows, cols) of a type GeoTIFF stores; widening only, never lossy."""
    if data.ndim == 2:
        data = data[np.newaxis]
    if data.ndim != 3:
        raise RasterInputError(f"data to write must be (bands, rows, cols), got {data.shape}",
                               source=str(path))
    if data.dtype == np.bool_:
        return data.view(np.uint8)
    if data.dtype == np.float16:
        return data.astype(np.float32)
    if data.dtype.kind not in "iufc":
        raise RasterInputError(f"GeoTIFF cannot store {data.dtype} pixels", source=str(path))
    return data


def write_raster(path: str | os.PathLike, data: np.ndarray, *, crs: Any = None,
                 transform: Any = None, nodata: float | None = None, driver: Driver = "GTiff",
                 compress: str | None = "deflate", level: int | None = DEFAULT_LEVEL) -> Path:
    """Write (bands, rows, cols) `data` losslessly to `path` (atomically: temp name, rename).

    GTiff is tiled 512 x 512; COG adds overviews (nearest for integer data) to images larger
    than a block. Compression is lossless: deflate with a predictor and effort `level` by
    default (None: GDAL's default effort). Booleans are
    stored as uint8 0/1 and float16 as float32, the nearest types GeoTIFF has.
    """
    import rasterio
    from rasterio.errors import RasterioError

    path = Path(path)
    data = _storable(data, path)
    if driver not in ("GTiff", "COG"):
        raise TilingError("driver", driver, "'GTiff' or 'COG'")
    if not path.parent.is_dir():
        raise RasterInputError("the output folder does not exist", source=str(path))
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    profile = dict(driver=driver, width=data.shape[2], height=data.shape[1], count=data.shape[0],
                   dtype=data.dtype, crs=crs, transform=transform, nodata=nodata,
                   **_creation_options(data.dtype, driver, compress, level))
    try:
        with rasterio.Env(GDAL_CACHEMAX=256), rasterio.open(temporary, "w", **profile) as out:
            out.write(data)
        os.replace(temporary, path)
    except RasterioError as exc:
        raise RasterInputError(f"cannot write the raster: {exc}", source=str(path)) from None
    finally:
        temporary.unlink(missing_ok=True)
    logger.info("wrote %s (%s, %d x %d x %d)", path, data.dtype, *data.shape)
    return path


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
    compress: str | None = "deflate",
    level: int | None = DEFAULT_LEVEL,
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
