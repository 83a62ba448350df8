"""Outputs in OGC terms: the results document, or one output raw.

The outputs are the ones the geoprocessing API answers, written once by the worker; only their
wrapping differs. In a results document (`results.yaml` of the standard):

- an image by reference is a link to where it was written, with its media type:
  `{"href": "file:///.../mask.tif", "type": "image/tiff; application=geotiff; profile=cloud-optimized"}`
  (an ImageRef output keeps its other members beside `href`);
- an image by value is a qualified value: `{"value": "<base64>", "encoding": "base64",
  "mediaType": "..."}`;
- a list of images is a list of those; an object is a qualified value `{"value": {...},
  "mediaType": "application/json"}`; strings, numbers, booleans and arrays are as they are.

A raw answer is one output alone: the image's bytes with its media type (value), an empty body
with a `Link` header to it (reference), or the JSON value.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi.responses import JSONResponse, Response
from pesto_factory.runtime.api.ogc.description import ImageOutput, ProcessInfo
from pesto_factory.runtime.api.ogc.execution import ExecuteRequest
from pesto_factory.runtime.api.views import ImageFileResponse
from pesto_factory.runtime.errors import AlgorithmFailed, BadRequest, NotFound
from pesto_factory.runtime.imageio.writing import GEOTIFF_MEDIA_TYPE
from pesto_factory.runtime.jobs.models import ResultFile

__all__ = ["raw_response", "results_document"]

_JSON = "application/json"
_GEOTIFF = "image/tiff; application=geotiff"


def results_document(outputs: Any, process: ProcessInfo, *,
                     wanted: Sequence[str] | None = None) -> dict[str, Any]:
    """The results document of `outputs` (the service's output object), limited to `wanted`.
    Whether an image is a link or a value follows what the worker wrote (a URI or base64)."""
    values = outputs if isinstance(outputs, dict) else {"result": outputs}
    names = [name for name in (wanted or values) if name in values]
    return {name: _document_value(values[name], process.images.get(name)) for name in names}


def _document_value(value: Any, image: ImageOutput | None) -> Any:
    if image is not None:
        if isinstance(value, list):
            return [_image_value(item, image.media_type) for item in value]
        return _image_value(value, image.media_type)
    if isinstance(value, dict):
        return {"value": value, "mediaType": _JSON}
    return value


def _image_value(value: Any, media_type: str) -> Any:
    if isinstance(value, dict) and isinstance(value.get("href"), str):
        # an ImageRef: a link with its window, ...; it may name any GeoTIFF (a tile's scene)
        return {**value, "type": _GEOTIFF if media_type == GEOTIFF_MEDIA_TYPE else media_type}
    if not isinstance(value, str):
        return value
    if "://" in value[:16]:  # a URI (the worker wrote the file): by reference
        return {"href": value, "type": media_type}
    return {"value": value, "encoding": "base64", "mediaType": media_type}


def raw_response(outputs: Any, files: Sequence[ResultFile], process: ProcessInfo,
                 request: ExecuteRequest) -> Response:
    """One output alone (`response: raw`); several outputs raw would be multipart: refused."""
    if len(request.outputs) != 1:
        raise BadRequest(
            f"response=raw returns one output; this request asks for {len(request.outputs)} "
            f"({', '.join(request.outputs)})",
            hint="name one output in 'outputs', or ask for response=document")
    name = request.outputs[0]
    values = outputs if isinstance(outputs, dict) else {"result": outputs}
    if name not in values:
        raise AlgorithmFailed(f"the algorithm returned no output {name!r}")
    image = process.images.get(name)
    if image is None:
        return JSONResponse(values[name])
    if image.is_list:
        raise BadRequest(f"output {name!r} is a list of images: response=raw returns one",
                         hint="ask for response=document")
    value = values[name]
    href = value.get("href") if isinstance(value, dict) else value
    if request.mode(name) == "reference":
        return Response(status_code=204,
                        headers={"Link": f'<{href}>; rel="{name}"; type="{image.media_type}"'})
    file = next((f for f in files if f.name == name), None)
    if file is None or not Path(file.path).is_file():
        raise NotFound(f"output {name!r} was not written to a file the service can serve",
                       hint="ask for transmissionMode reference")
    return ImageFileResponse(file.path, media_type=image.media_type)
