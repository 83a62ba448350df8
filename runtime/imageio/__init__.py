"""Images in and out of the runtime: where they may come from, how they are read and written.

    policy    which locations a request may name (`InputPolicy`, `check_uri`), cheaply
    inline    base64 and data: URI images
    reading   Image values, ImageRef windows and raw bytes into `GeoImage`s
    writing   lossless COG outputs written atomically, base64 for inline answers
    boundary  rasterio/GDAL failures turned into the runtime's own errors

The payload layer (`runtime.payload`) drives these from a service's input and output schemas.
"""

from __future__ import annotations

from runtime.imageio.boundary import gdal_errors, no_georeferencing_warning, reading_env
from runtime.imageio.inline import check_base64, decode_base64
from runtime.imageio.policy import (
    REMOTE_SCHEMES,
    InputPolicy,
    check_uri,
    display_uri,
    is_inline,
    resolve_uri,
)
from runtime.imageio.reading import read_bytes, read_image, read_image_ref
from runtime.imageio.writing import GEOTIFF_MEDIA_TYPE, cog_options, encode_base64, write_image

__all__ = [
    "GEOTIFF_MEDIA_TYPE",
    "REMOTE_SCHEMES",
    "InputPolicy",
    "check_base64",
    "check_uri",
    "cog_options",
    "decode_base64",
    "display_uri",
    "encode_base64",
    "gdal_errors",
    "no_georeferencing_warning",
    "is_inline",
    "read_bytes",
    "read_image",
    "read_image_ref",
    "reading_env",
    "resolve_uri",
    "write_image",
]
