"""The bridge between JSON payloads and an algorithm's arguments and results.

A service's bundled input and output schemas say which values are images (`Image`, `Images`,
`ImageRef`, `ImageRefs`, or `anyOf` an Image and an ImageRef), as properties or nested in objects
and arrays (a list of tile results each holding an ImageRef). On the request path `check_inputs`
validates a payload, fills in schema defaults and refuses image locations the service may not
read, without opening any file. In the worker `resolve_inputs` reads the images into numpy arrays
(C, H, W), or `GeoImage`s for the parameters annotated so; an image whose schema says
`"x-pesto-read": "header"` arrives as an `ImageHeader` (size and georeferencing, no pixels).
`encode_outputs` writes the images an algorithm returns as COGs, or as PNGs for a property with
`"contentMediaType": "image/png"`, and answers with their `file://` URIs (by reference) or base64
(inline). An ImageRef's href may be a `data:` URI. A raw `application/octet-stream` body becomes
a payload holding a `RawImage`, whose bytes the worker reads as they are: no base64 round trip.
"""

from __future__ import annotations

from pesto_factory.runtime.payload.inputs import (
    body_to_payload,
    check_inputs,
    discard_spooled,
    georeferenced_parameters,
    raw_body_input,
    resolve_inputs,
)
from pesto_factory.runtime.payload.models import EncodedOutputs, OutputFile, RawImage
from pesto_factory.runtime.payload.outputs import encode_outputs

__all__ = [
    "EncodedOutputs",
    "OutputFile",
    "RawImage",
    "body_to_payload",
    "discard_spooled",
    "check_inputs",
    "encode_outputs",
    "georeferenced_parameters",
    "raw_body_input",
    "resolve_inputs",
]
