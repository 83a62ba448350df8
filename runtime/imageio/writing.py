"""Writing images: lossless Cloud-Optimized GeoTIFFs, whole or not at all.

`write_geotiff` is the project's one GeoTIFF/COG writer (codec, predictor, overviews, band
names, tags): service outputs (`write_image`), the tiling engine's files
(`raster.write_raster`), the sample scenes and the benchmarks' inputs all go through it, so
the codec measurements below are applied in one place.

An output image keeps its dtype (bool is stored as uint8, float16 as float32: GDAL has neither),
its CRS, transform and nodata, bit for bit. It is written to a temporary name in the target
folder and renamed on success, so a reader never sees a half-written file and a failure leaves
nothing behind. A `GeoImage` with a margin is written as its core: the margin was context read
around the requested window, not part of the answer.
"""

from __future__ import annotations

import base64
import logging
import os
import uuid
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import rasterio
from pesto_factory.runtime.geoimage import GeoImage
from pesto_factory.runtime.imageio.boundary import no_georeferencing_warning
from rasterio.errors import RasterioError
from rasterio.io import MemoryFile

__all__ = ["GEOTIFF_MEDIA_TYPE", "PNG_MEDIA_TYPE", "cog_options", "creation_options",
           "encode_base64", "write_geotiff", "write_image", "write_png"]

logger = logging.getLogger(__name__)

GEOTIFF_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
PNG_MEDIA_TYPE = "image/png"
_PNG_BANDS = {1: "grey", 3: "RGB", 4: "RGBA"}

# Measured on 2 cores, 4x1024x1024 uint16 (a Sentinel-2 crop, 8.4 MB raw), GDAL 3.10:
#   plain GeoTIFF        7 ms write    8 ms read   8.4 MB
#   COG DEFLATE-1 +pred 78 ms write   23 ms read   6.3 MB
#   COG LZW +pred       81 ms write   32 ms read   7.8 MB
#   COG ZSTD-1 +pred    18 ms write   11 ms read   6.4 MB
# ZSTD level 1 compresses as well as DEFLATE at a quarter of the time, and decodes twice as
# fast, so a reference round trip stays close to a raw byte echo. The horizontal predictor pays
# for integers (-12 % size at no cost); on float32 the floating-point predictor cost +50 % time
# for -14 % size, so floats go without. Overviews are off: outputs are read back by window at
# full resolution (the chain's tiles and merges), and building them adds a third to every write.
# NUM_THREADS did not help on 2 cores shared with other workers. DEFLATE is the fallback for a
# GDAL built without ZSTD (every rasterio wheel has it; GDAL >= 2.3 reads it).
_PREFERRED_CODEC = "ZSTD"
_LOSSLESS_CODECS = ("NONE", "ZSTD", "DEFLATE", "LZW")
_FALLBACK_CODEC = "DEFLATE"
_BLOCK_SIZE = 512

# dtypes GDAL cannot store, and the lossless type used instead
_PROMOTED = {np.dtype(bool): np.dtype("uint8"), np.dtype("float16"): np.dtype("float32")}
_SUPPORTED_KINDS = "iufc"

Driver = Literal["COG", "GTiff"]


def write_image(image: GeoImage | np.ndarray, path: Path) -> Path:
    """Write `image` losslessly as a COG at `path` (parents created); returns `path`.

    The service outputs' writer: `write_geotiff` with the measured defaults, uncompressed when
    PESTO_OUTPUT_COMPRESSION=none.
    """
    from pesto_factory.runtime.settings import get_settings

    if not isinstance(image, GeoImage):
        if not isinstance(image, np.ndarray):
            raise TypeError(f"an image is a GeoImage or a numpy array, not {type(image).__name__}")
        image = GeoImage(image)
    elif any(image.margin):
        image = image.core()
    codec = "none" if get_settings().output_compression == "none" else "auto"
    return write_geotiff(path, image.data, crs=image.crs, transform=image.transform,
                         nodata=image.nodata, codec=codec)


def write_geotiff(path: str | os.PathLike, data: np.ndarray, *, crs: Any = None,
                  transform: Any = None, nodata: float | None = None, driver: Driver = "COG",
                  codec: str = "auto", level: int | None = None,
                  predictor: int | Literal["auto"] = "auto", overviews: bool = False,
                  resampling: str | None = None, blocksize: int = _BLOCK_SIZE,
                  band_names: Sequence[str] = (), tags: Mapping[str, str] | None = None) -> Path:
    """Write (bands, rows, cols) `data` losslessly as a GeoTIFF at `path`; the one writer.

    Service outputs, the tiling engine's files and the sample scenes all come through here, so
    codec choices (see the measurements above) are made once. Atomic: a temporary name in the
    target folder (parents created), renamed on success; a failure leaves nothing behind.
    `codec`: "auto" (ZSTD level 1, DEFLATE without ZSTD), "none", or a GDAL lossless codec
    (deflate, zstd, lzw); `predictor`: "auto" (horizontal for integers, none for floats) or
    GDAL's 1/2/3; `overviews` (COG only) resampled with `resampling` (default nearest for
    integers, average for floats); `band_names` and `tags` are stored in the file. Booleans
    are stored as uint8 0/1, float16 as float32, a 2-D array as one band.
    """
    data = _storable(np.asarray(data))
    if driver not in ("COG", "GTiff"):
        raise ValueError(f"driver must be 'COG' or 'GTiff', not {driver!r}")
    if overviews and driver != "COG":
        raise ValueError("overviews are written with driver 'COG' only")
    if len(band_names) not in (0, data.shape[0]):
        raise ValueError(f"{len(band_names)} band names for {data.shape[0]} bands")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    profile = {
        "driver": driver, "count": data.shape[0], "height": data.shape[1],
        "width": data.shape[2], "dtype": data.dtype.name, "crs": crs, "nodata": nodata,
        **creation_options(data.dtype, driver=driver, codec=codec, level=level,
                           predictor=predictor, overviews=overviews, resampling=resampling,
                           blocksize=blocksize),
    }
    if transform is not None:
        profile["transform"] = transform
    try:
        with no_georeferencing_warning(), rasterio.open(temporary, "w", **profile) as dst:
            dst.write(data)
            for index, name in enumerate(band_names, start=1):
                dst.set_band_description(index, name)
            if tags:
                dst.update_tags(**tags)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    logger.debug("wrote %s (%s %s, %s)", path, driver, data.dtype, "x".join(map(str, data.shape)))
    return path


def write_png(image: GeoImage | np.ndarray, path: Path) -> Path:
    """Write an 8-bit image of 1, 3 or 4 bands (grey, RGB, RGBA) as a PNG at `path`, atomically.

    For pictures meant for eyes (quicklooks): a PNG keeps no georeferencing, so CRS and
    transform are dropped, and no .aux.xml sidecar is written beside it.
    """
    if not isinstance(image, GeoImage):
        if not isinstance(image, np.ndarray):
            raise TypeError(f"an image is a GeoImage or a numpy array, not {type(image).__name__}")
        image = GeoImage(image)
    data = image.core().data if any(image.margin) else image.data
    data = data.view(np.uint8) if data.dtype == np.bool_ else data
    if data.dtype != np.uint8:
        raise TypeError(f"a PNG image must be 8-bit (uint8), not {data.dtype}")
    if data.shape[0] not in _PNG_BANDS:
        raise ValueError(f"a PNG image has 1, 3 or 4 bands (grey, RGB, RGBA), not {data.shape[0]}")
    if 0 in data.shape:
        raise ValueError(f"cannot store an empty image (shape {data.shape})")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    try:
        with rasterio.Env(GDAL_PAM_ENABLED="NO"), no_georeferencing_warning(), rasterio.open(
                temporary, "w", driver="PNG", count=data.shape[0], height=data.shape[1],
                width=data.shape[2], dtype="uint8") as dst:
            dst.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    logger.debug("wrote %s (PNG %s)", path, "x".join(map(str, data.shape)))
    return path


def cog_options(dtype: np.dtype) -> dict[str, Any]:
    """The service outputs' COG creation options for `dtype` (see the measurements above).

    PESTO_OUTPUT_COMPRESSION=none trades storage for speed (writes ~3x faster, files as large
    as the pixels): for fast shared storage, or data that does not compress (noise).
    """
    from pesto_factory.runtime.settings import get_settings

    codec = "none" if get_settings().output_compression == "none" else "auto"
    return creation_options(np.dtype(dtype), codec=codec)


def creation_options(dtype: np.dtype, *, driver: Driver = "COG", codec: str = "auto",
                     level: int | None = None, predictor: int | Literal["auto"] = "auto",
                     overviews: bool = False, resampling: str | None = None,
                     blocksize: int = _BLOCK_SIZE) -> dict[str, Any]:
    """GDAL creation options of `write_geotiff` (its arguments, same meaning)."""
    dtype = np.dtype(dtype)
    name = _codec() if codec.lower() == "auto" else codec.upper()
    if name not in _LOSSLESS_CODECS:
        raise ValueError(f"codec must be auto, none or one of "
                         f"{', '.join(c.lower() for c in _LOSSLESS_CODECS[1:])}, not {codec!r}")
    options: dict[str, Any] = {"compress": name, "bigtiff": "IF_SAFER"}
    if driver == "COG":
        options["blocksize"] = blocksize
        if overviews:
            options["overviews"] = "AUTO"
            options["resampling"] = (resampling or
                                     ("NEAREST" if dtype.kind in "biu" else "AVERAGE")).upper()
        else:
            options["overviews"] = "NONE"
    else:
        options.update(tiled=True, blockxsize=blocksize, blockysize=blocksize)
    if name == "NONE":
        return options
    if name in ("ZSTD", "DEFLATE"):
        key = "level" if driver == "COG" else {"ZSTD": "zstd_level", "DEFLATE": "zlevel"}[name]
        options[key] = 1 if level is None else level
    if predictor == "auto":
        predictor = 2 if dtype.kind in "iu" else 1
    if predictor != 1:
        options["predictor"] = predictor
    return options


def encode_base64(path: Path) -> str:
    """The base64 text of a file (plain, no data: prefix), for inline outputs."""
    return base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _storable(data: np.ndarray) -> np.ndarray:
    if data.ndim == 2:
        data = data[np.newaxis]
    if data.ndim != 3:
        raise ValueError(f"an image to write is (bands, rows, cols), not shape {data.shape}")
    dtype = _PROMOTED.get(data.dtype, data.dtype)
    if dtype.kind not in _SUPPORTED_KINDS:
        raise TypeError(f"cannot store {data.dtype} pixels in a GeoTIFF (unsupported dtype)")
    if 0 in data.shape:
        raise ValueError(f"cannot store an empty image (shape {data.shape})")
    return data.astype(dtype, copy=False)


@lru_cache(maxsize=1)
def _codec() -> str:
    """ZSTD when this GDAL writes it (an unknown codec only warns and writes uncompressed)."""
    found = ""
    try:
        with no_georeferencing_warning(), MemoryFile() as memfile:
            with memfile.open(driver="GTiff", count=1, height=1, width=1, dtype="uint8",
                              compress=_PREFERRED_CODEC) as dst:
                dst.write(np.zeros((1, 1, 1), np.uint8))
            with memfile.open() as src:
                found = src.compression.name.upper() if src.compression else ""
    except RasterioError:
        pass
    if found != _PREFERRED_CODEC:
        logger.warning("GDAL cannot write %s here: outputs use %s", _PREFERRED_CODEC, _FALLBACK_CODEC)
        return _FALLBACK_CODEC
    return _PREFERRED_CODEC
