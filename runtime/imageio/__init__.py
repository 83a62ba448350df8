"""Images in and out of the runtime: where they may come from, how they are read and written.

    policy    which locations a request may name (`InputPolicy`, `check_uri`), cheaply
    inline    base64 and data: URI images
    reading   Image values, ImageRef windows (`RefImage`) and raw bytes into `GeoImage`s
    writing   lossless COG outputs (PNG for quicklooks) written atomically, base64 for inline
    header    an image's size and georeferencing without its pixels (`ImageHeader`)
    locations where images are in a payload, found through the service's schema
    boundary  rasterio/GDAL failures turned into the runtime's own errors

The payload layer (`pesto_factory.runtime.payload`) drives these from a service's input and output schemas.
"""

from __future__ import annotations

from pesto_factory.runtime.imageio.boundary import (
    INPUT_DRIVERS,
    gdal_errors,
    no_georeferencing_warning,
    open_input,
    reading_env,
)
from pesto_factory.runtime.imageio.header import (
    HEADER_READ,
    ImageHeader,
    header_of_bytes,
    read_header,
)
from pesto_factory.runtime.imageio.inline import check_base64, decode_base64, is_data_uri
from pesto_factory.runtime.imageio.locations import (
    EACH,
    EITHER,
    LIST_OF,
    ImageNode,
    deref,
    image_nodes,
    image_properties,
    image_type,
    image_values,
    replace_images,
    split_list,
    value_type,
    wants_png,
)
from pesto_factory.runtime.imageio.policy import (
    REMOTE_SCHEMES,
    InputPolicy,
    check_uri,
    display_uri,
    is_inline,
    resolve_uri,
)
from pesto_factory.runtime.imageio.reading import (
    RefImage,
    read_bytes,
    read_image,
    read_image_ref,
    read_spooled,
)
from pesto_factory.runtime.imageio.writing import (
    GEOTIFF_MEDIA_TYPE,
    PNG_MEDIA_TYPE,
    cog_options,
    creation_options,
    encode_base64,
    write_geotiff,
    write_image,
    write_png,
)

__all__ = [
    "INPUT_DRIVERS",
    "open_input",
    "EACH",
    "EITHER",
    "LIST_OF",
    "ImageNode",
    "RefImage",
    "deref",
    "image_nodes",
    "image_properties",
    "image_type",
    "image_values",
    "replace_images",
    "split_list",
    "value_type",
    "wants_png",
    "GEOTIFF_MEDIA_TYPE",
    "HEADER_READ",
    "PNG_MEDIA_TYPE",
    "REMOTE_SCHEMES",
    "ImageHeader",
    "InputPolicy",
    "check_base64",
    "check_uri",
    "cog_options",
    "creation_options",
    "decode_base64",
    "display_uri",
    "encode_base64",
    "write_geotiff",
    "gdal_errors",
    "header_of_bytes",
    "is_data_uri",
    "no_georeferencing_warning",
    "is_inline",
    "read_bytes",
    "read_spooled",
    "read_image",
    "read_header",
    "read_image_ref",
    "reading_env",
    "resolve_uri",
    "write_image",
    "write_png",
]
