"""Image headers: what a raster is (size, bands, georeferencing) without reading its pixels.

An Image or ImageRef input whose schema property says `"x-pesto-read": "header"` reaches the
algorithm as an `ImageHeader`. The runtime checks its location and opens it exactly as for a
pixel read (same input policy, same errors) but decodes no pixel: a service that only plans work
on a scene (tiling) or needs its georeferencing (merge) answers at once, whatever the scene's
size. `href` is a URI that opens the same raster again downstream: the location as given, or a
`data:` URI when the image came inline.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pesto_factory.runtime.errors import BadRequest
from pesto_factory.runtime.imageio.boundary import gdal_errors, open_input, reading_env
from pesto_factory.runtime.imageio.inline import decode_base64, is_data_uri
from pesto_factory.runtime.imageio.policy import InputPolicy, display_uri, is_inline, resolve_uri
from pesto_factory.runtime.imageio.reading import (
    _block,
    _indexes,
    _nodata,
    _parse_ref,
    _Request,
    _transform,
)
from pesto_factory.runtime.raster.windows import Window
from rasterio.io import MemoryFile

__all__ = ["HEADER_READ", "ImageHeader", "read_header", "header_of_bytes"]

#: The schema keyword and value asking for a header instead of pixels.
HEADER_READ = ("x-pesto-read", "header")

_DATA_PREFIX = "data:application/octet-stream;base64,"


@dataclass(frozen=True)
class ImageHeader:
    """A raster's description, read from its header only."""

    href: str  # URI reading the same raster: as given, or a data: URI for inline images
    width: int
    height: int
    count: int
    dtype: str  # numpy name of the first band's type
    crs: Any = None  # rasterio CRS or None
    transform: Any = None  # affine.Affine of the top-left pixel, or None (no georeferencing)
    nodata: float | int | None = None
    bands: tuple[int, ...] | None = None  # an ImageRef's bands, when it named some
    window: Window | None = None  # an ImageRef's window, when it had one (checked to fit)


def read_header(value: str | Mapping[str, Any], policy: InputPolicy, *,
                field: str = "image") -> ImageHeader:
    """The header of an Image value (URI, path, base64) or of an ImageRef's raster."""
    if isinstance(value, Mapping):
        href, request = _parse_ref(value, field)
        if is_data_uri(href):
            return header_of_bytes(decode_base64(href, field=field), field=field,
                                   href=href.strip(), request=request)
    elif isinstance(value, str):
        href, request = value.strip(), _Request()
        if is_inline(href):
            return header_of_bytes(decode_base64(href, field=field), field=field,
                                   href=href if is_data_uri(href) else None)
    else:
        raise BadRequest(f"input {field!r}: an image is a URI string or an ImageRef object, "
                         f"not {type(value).__name__}")
    path = resolve_uri(href, policy, field=field)
    where = display_uri(href)
    with reading_env(), gdal_errors(field=field, where=where, source=path), open_input(path) as src:
        return _header(src, href, request, field=field, where=where)


def header_of_bytes(data: bytes, *, field: str = "body", href: str | None = None,
                    request: _Request | None = None) -> ImageHeader:
    """The header of a raster given as the bytes of its file; its href becomes a data: URI."""
    if not data:
        raise BadRequest(f"input {field!r}: the image data is empty")
    href = href or _DATA_PREFIX + base64.b64encode(data).decode("ascii")
    where = f"the {len(data)} bytes of image data"
    with (reading_env(), gdal_errors(field=field, where=where),
          MemoryFile(bytes(data)) as memfile, open_input(memfile) as src):
        return _header(src, href, request or _Request(), field=field, where=where)


def _header(src: Any, href: str, request: _Request, *, field: str, where: str) -> ImageHeader:
    indexes = _indexes(src, request, field=field, where=where)
    _block(src, request, field=field, where=where)  # the window must fit
    dtype = np.dtype(src.dtypes[indexes[0] - 1])
    return ImageHeader(
        href=href, width=src.width, height=src.height, count=src.count, dtype=dtype.name,
        crs=src.crs, transform=_transform(src, Window(0, 0, src.width, src.height)),
        nodata=_nodata(src.nodatavals[indexes[0] - 1], dtype),
        bands=request.bands, window=request.window)
