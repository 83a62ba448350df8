"""Reading images into `GeoImage`s: whole rasters, inline base64, raw bytes, and windows.

An Image value is read whole, wherever it is. An ImageRef reads only its window grown by its
margin, clipped at the raster's borders: the resulting `GeoImage.margin` says how many pixels of
context were actually read on each side, and its transform is the one of the block read, so an
algorithm can compute on the block and crop back with `GeoImage.core()`. An ImageRef's href may
also be a `data:` URI (the raster itself, base64): small tests and literals travel as references
that way. What an ImageRef read gives is a `RefImage`: a GeoImage that also knows the ref's
window in the source raster, the margin it asked for and the source's size, so an algorithm can
say where its result goes in the scene and whether it had the context it needs. Any format GDAL
reads is accepted (GeoTIFF/COG, PNG, JPEG, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pesto_factory.runtime.errors import BadRequest, UnprocessableInput
from pesto_factory.runtime.geoimage import GeoImage
from pesto_factory.runtime.imageio.boundary import gdal_errors, open_input, reading_env
from pesto_factory.runtime.imageio.inline import decode_base64, is_data_uri
from pesto_factory.runtime.imageio.policy import InputPolicy, display_uri, is_inline, resolve_uri
from pesto_factory.runtime.raster.windows import Window
from rasterio.io import DatasetReader, MemoryFile

__all__ = ["RefImage", "read_bytes", "read_image", "read_image_ref", "read_spooled"]


@dataclass(frozen=True)
class RefImage(GeoImage):
    """A GeoImage read through an ImageRef, and where in its source it was read.

    `window` is the ref's window in the source raster's pixels, a runtime `Window` (the one
    window type, as the tiling engine's) (the whole raster when the ref
    had none); `ref_margin` is the margin the ref asked for, while `margin` says what was read
    once clipped at the raster's borders; `raster_shape` is the source's (rows, cols).
    """

    href: str = ""
    window: Window | None = None
    ref_margin: int = 0
    raster_shape: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class _Request:
    """What part of a raster to read: a window (None: all), its margin, 1-based bands; `href`
    when it comes from an ImageRef (the read then gives a `RefImage`)."""

    window: Window | None = None
    margin: int = 0
    bands: tuple[int, ...] | None = None
    href: str | None = None


def read_image(value: str, policy: InputPolicy, *, field: str = "image") -> GeoImage:
    """An Image value (URI, absolute path, base64 or data: URI) read whole."""
    if not isinstance(value, str):
        raise BadRequest(
            f"input {field!r}: an image is a string (URI or base64), not {type(value).__name__}")
    if is_inline(value):
        return read_bytes(decode_base64(value, field=field), field=field)
    path = resolve_uri(value, policy, field=field)
    return _read_path(path, _Request(), field=field, where=display_uri(value))


def read_image_ref(ref: Mapping[str, Any], policy: InputPolicy, *, field: str = "image") -> RefImage:
    """An ImageRef {href, window?, margin?, bands?}: only the window plus margin is read."""
    href, request = _parse_ref(ref, field)
    if is_data_uri(href):
        return _read_memory(decode_base64(href, field=field), request, field=field)
    path = resolve_uri(href, policy, field=field)
    return _read_path(path, request, field=field, where=display_uri(href))


def read_bytes(data: bytes, *, field: str = "body") -> GeoImage:
    """A whole raster from the bytes of a file (a raw request body or decoded base64)."""
    return _read_memory(data, _Request(), field=field)


def read_spooled(path: str, *, field: str = "body") -> GeoImage:
    """A whole raster from a request body the service spooled to a file (a trusted path)."""
    return _read_path(path, _Request(), field=field, where="the request body")


def _read_memory(data: bytes, request: _Request, *, field: str) -> GeoImage:
    if not data:
        raise BadRequest(f"input {field!r}: the image data is empty")
    where = f"the {len(data)} bytes of image data"
    with (reading_env(), gdal_errors(field=field, where=where),
          MemoryFile(bytes(data)) as memfile, open_input(memfile) as src):
        return _read_dataset(src, request, field=field, where=where)


def _read_path(path: str, request: _Request, *, field: str, where: str) -> GeoImage:
    with (reading_env(), gdal_errors(field=field, where=where, source=path),
          open_input(path) as src):
        return _read_dataset(src, request, field=field, where=where)


def _read_dataset(src: DatasetReader, request: _Request, *, field: str, where: str) -> GeoImage:
    indexes = _indexes(src, request, field=field, where=where)
    block, margin = _block(src, request, field=field, where=where)
    data = src.read(indexes, window=block.to_rasterio())
    values = {"data": data, "crs": src.crs, "transform": _transform(src, block),
              "nodata": _nodata(src.nodatavals[indexes[0] - 1], data.dtype), "margin": margin,
              "band_names": _band_names(src, indexes)}
    if request.href is None:
        return GeoImage(**values)
    return RefImage(**values, href=request.href, ref_margin=request.margin,
                    window=request.window or Window(0, 0, src.width, src.height),
                    raster_shape=(src.height, src.width))


def _indexes(src: DatasetReader, request: _Request, *, field: str, where: str) -> list[int]:
    """The 1-based bands to read, checked against the raster's band count."""
    indexes = list(request.bands) if request.bands else list(range(1, src.count + 1))
    missing = [band for band in indexes if not 1 <= band <= src.count]
    if missing:
        raise UnprocessableInput(
            f"input {field!r}: band {missing[0]} requested but {where} has {src.count} band(s)")
    return indexes


def _band_names(src: DatasetReader, indexes: list[int]) -> tuple[str | None, ...] | None:
    """The read bands' descriptions (None when the file describes none), for band-order checks."""
    names = tuple(src.descriptions[i - 1] or None for i in indexes)
    return names if any(names) else None


def _transform(src: DatasetReader, window: Window) -> Any:
    transform = src.window_transform(window.to_rasterio())
    if src.crs is None and transform.is_identity:
        return None  # no georeferencing at all: say so rather than invent pixel coordinates
    return transform


def _block(
    src: DatasetReader, request: _Request, *, field: str, where: str,
) -> tuple[Window, tuple[int, int, int, int]]:
    """The window grown by the margin, clipped at the borders, and the margin actually read."""
    rows, cols = src.height, src.width
    window = request.window
    if window is None:
        return Window(0, 0, cols, rows), (0, 0, 0, 0)
    col_off, row_off = int(window.col_off), int(window.row_off)
    width, height = int(window.width), int(window.height)
    if col_off + width > cols or row_off + height > rows:
        raise UnprocessableInput(
            f"input {field!r}: window col_off={col_off} row_off={row_off} width={width} "
            f"height={height} does not fit in {where}, which is {cols} columns x {rows} rows")
    m = request.margin
    top, left = min(m, row_off), min(m, col_off)
    bottom, right = min(m, rows - row_off - height), min(m, cols - col_off - width)
    block = Window(col_off - left, row_off - top, width + left + right, height + top + bottom)
    return block, (top, left, bottom, right)


def _nodata(value: float | None, dtype: np.dtype) -> float | int | None:
    """rasterio gives nodata as a float: give integer images an int, exactly as stored."""
    if value is None or dtype.kind not in "iu" or not np.isfinite(value):
        return value
    return int(value) if float(value).is_integer() else value


def _parse_ref(ref: Mapping[str, Any], field: str) -> tuple[str, _Request]:
    """Check an ImageRef's shape (the schema normally did) and turn it into a read request."""
    if not isinstance(ref, Mapping) or not isinstance(ref.get("href"), str):
        raise BadRequest(f"input {field!r}: an ImageRef is an object with an 'href' string")
    window = ref.get("window")
    if window is not None:
        keys = ("col_off", "row_off", "width", "height")
        values = [window.get(key) if isinstance(window, Mapping) else None for key in keys]
        if not all(_is_int(v, minimum=0) for v in values) or not all(v >= 1 for v in values[2:]):
            raise BadRequest(
                f"input {field!r}: window needs integers col_off, row_off >= 0 and "
                f"width, height >= 1, got {str(window)[:200]}")
        window = Window(*values)
    margin = ref.get("margin") or 0
    if not _is_int(margin, minimum=0):
        raise BadRequest(f"input {field!r}: margin must be an integer >= 0, got {margin!r}")
    bands = ref.get("bands")
    if bands is not None and (
            not isinstance(bands, Sequence) or not bands
            or not all(_is_int(b, minimum=1) for b in bands)):
        raise BadRequest(f"input {field!r}: bands must be a list of 1-based band indexes")
    return ref["href"], _Request(window=window, margin=margin, href=ref["href"],
                                 bands=tuple(bands) if bands is not None else None)


def _is_int(value: Any, *, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum
