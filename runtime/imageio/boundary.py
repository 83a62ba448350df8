"""The boundary between rasterio/GDAL and the runtime's own errors.

Everything that opens or reads a raster runs inside `gdal_errors(...)`: a GDAL or rasterio
failure (not a raster, corrupt tile, unreachable URL) leaves it as an `UnprocessableInput` that
names the input field and the location, with GDAL's reason, never the bytes of the image.
`reading_env()` is the GDAL configuration every read uses.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import rasterio
from pesto_factory.runtime.errors import PestoError, UnprocessableInput
from rasterio._err import CPLE_BaseError
from rasterio.errors import NotGeoreferencedWarning, RasterioError, RasterioIOError
from rasterio.io import DatasetReader, MemoryFile

__all__ = ["INPUT_DRIVERS", "gdal_errors", "no_georeferencing_warning", "open_input",
           "reading_env"]

_VSIMEM = re.compile(r"'?/vsimem/[^\s']*'?")
_VSI_PREFIX = re.compile(r"/vsi(curl|s3|gs)/")
_URL_QUERY = re.compile(r"(https?://[^\s'\"?]*)\?[^\s'\"]*")  # pre-signed URLs carry secrets
_MAX_DETAIL = 300

# Reads open one known file: never list its folder (a big folder or a bucket prefix would be
# listed on every open). Remote reads retry briefly, then fail with GDAL's reason.
_READ_OPTIONS = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_HTTP_TIMEOUT": 60,
    "GDAL_HTTP_CONNECTTIMEOUT": 10,
    "GDAL_HTTP_MAX_RETRY": 2,
    "GDAL_HTTP_RETRY_DELAY": 0.5,
}


#: The only formats an input may be in. Formats that name other files or URLs (VRT, GTI,
#: MRF...) would let a request read what the input policy refuses: a base64 VRT pointing at
#: /etc or an internal URL. Drivers, not extensions, decide: GDAL sniffs content.
INPUT_DRIVERS = ("GTiff", "PNG", "JPEG", "JP2OpenJPEG", "WEBP")


def open_input(source: str | MemoryFile) -> DatasetReader:
    """Open a path or a MemoryFile with one of INPUT_DRIVERS only (never VRT and the like).

    rasterio takes a single driver name, so each allowed driver is tried in turn; a driver
    that does not recognise the data fails at its cheap identification step.
    """
    error: RasterioError | None = None
    for driver in INPUT_DRIVERS:
        try:
            if isinstance(source, MemoryFile):
                return source.open(driver=driver)
            return rasterio.open(source, driver=driver)
        except RasterioError as exc:
            error = error or exc  # the first (GTiff's) message is the most telling
    raise RasterioIOError(f"not in a supported image format ({', '.join(INPUT_DRIVERS)})") \
        from error


@contextmanager
def reading_env() -> Iterator[None]:
    """GDAL options for reads."""
    with rasterio.Env(**_READ_OPTIONS), no_georeferencing_warning():
        yield


@contextmanager
def no_georeferencing_warning() -> Iterator[None]:
    """Images without CRS or transform are normal here (PNG, pixel grids): no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        yield


@contextmanager
def gdal_errors(*, field: str, where: str, source: str | None = None) -> Iterator[None]:
    """Re-raise rasterio/GDAL failures as `UnprocessableInput` naming `field` and `where`;
    when `source` is an object in a store, as what the store said (missing key or bucket,
    access denied, store unreachable)."""
    try:
        yield
    except PestoError:
        raise
    except (RasterioError, CPLE_BaseError) as exc:
        from pesto_factory.runtime.imageio.objectstore import explain_read_failure, from_vsi

        location = from_vsi(source) if source else None
        if location is not None:
            error = explain_read_failure(location, exc)
            raise type(error)(f"input {field!r}: {error.message}", hint=error.hint) from exc
        raise UnprocessableInput(
            f"input {field!r}: cannot read {where} as a raster: {_detail(exc)}",
            hint="GDAL-readable formats are accepted (GeoTIFF/COG, PNG, JPEG, ...)",
        ) from exc


def _detail(exc: BaseException) -> str:
    """GDAL's reason, without in-memory file names; the underlying cause when rasterio wraps it."""
    cause = exc.__cause__
    text = str(cause if isinstance(cause, CPLE_BaseError) else exc)
    text = _VSI_PREFIX.sub("", _VSIMEM.sub("the data", text))
    text = _URL_QUERY.sub(r"\1?...", text).strip() or type(exc).__name__
    return text if len(text) <= _MAX_DETAIL else text[:_MAX_DETAIL] + "..."
