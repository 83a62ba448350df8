"""POST /process: run the algorithm, synchronously or, on `Prefer: respond-async`, as a job.

The body is the input JSON object, or, for a service with one image input, the raw image bytes
(application/octet-stream). Image outputs come back as file:// references under the output
root, or inline as base64 with `?outputs=inline`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pesto_factory.runtime import payload as payload_mod
from pesto_factory.runtime.api.deps import Service, base_url, require_token
from pesto_factory.runtime.api.views import accepted_response, image_response
from pesto_factory.runtime.errors import AlgorithmFailed, BadRequest, NotAcceptable
from pesto_factory.runtime.service import ProcessingService

__all__ = ["router", "read_payload", "wants_inline", "wants_async", "wants_image_bytes"]

_IMAGE_TYPES = ("image/tiff", "application/octet-stream")


router = APIRouter(prefix="/api/v1", tags=["process"], dependencies=[Depends(require_token)])


def wants_async(request: Request) -> bool:
    prefer = request.headers.get("prefer", "")
    return any(token.strip().lower() == "respond-async" for token in prefer.split(","))


def wants_inline(request: Request) -> bool:
    mode = request.query_params.get("outputs", "reference")
    if mode not in ("reference", "inline"):
        raise BadRequest(f"query parameter outputs={mode!r}: expected 'reference' or 'inline'")
    return mode == "inline"


def wants_image_bytes(request: Request, service: ProcessingService) -> bool:
    """`Accept: image/tiff` asks for the single image output as raw bytes, not JSON."""
    accept = request.headers.get("accept", "")
    if not any(kind in accept for kind in _IMAGE_TYPES):
        return False
    if service.single_image_output is None:
        raise NotAcceptable(f"Accept: {accept}: this service's output is not a single image",
                            hint="accept application/json")
    return True


async def read_payload(request: Request, service: ProcessingService) -> dict[str, Any]:
    """The request's inputs, validated (schema, allowed URIs) before anything is queued."""
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    body = await request.body()
    if content_type == "application/octet-stream":
        if not body:
            raise BadRequest("empty request body: expected the image's bytes")
        # Spooled to a file (off the event loop): the worker gets a path, not megabytes.
        return await asyncio.to_thread(payload_mod.body_to_payload, body,
                                       service.project.input_schema, spool_dir=service.spool_dir)
    if content_type not in ("application/json", "") and not content_type.endswith("+json"):
        raise BadRequest(f"unsupported content type {content_type!r}",
                         hint="send application/json, or application/octet-stream for one image")
    try:
        payload = json.loads(body or b"null")
    except json.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc.msg} at line {exc.lineno},"
                         f" column {exc.colno}") from None
    except UnicodeDecodeError:
        raise BadRequest("request body is not UTF-8 JSON") from None
    except RecursionError:
        raise BadRequest("request body is nested too deeply") from None
    if not isinstance(payload, dict):
        raise BadRequest(f"request body must be a JSON object, not {type(payload).__name__}")
    service.check(payload)
    return payload


@router.post("/process")
async def process(request: Request, service: Service) -> Response:
    inline = wants_inline(request)
    is_async = wants_async(request)
    as_bytes = not is_async and wants_image_bytes(request, service)  # 406 before any work
    payload = await read_payload(request, service)
    if is_async:
        job = service.submit_async(payload, inline=inline)
        return accepted_response(job, base_url(request, service))
    result = await service.run_sync(payload, inline=inline and not as_bytes)
    if as_bytes:
        if not result.files:
            raise AlgorithmFailed(f"the algorithm returned no image for its output "
                                  f"{service.single_image_output!r}")
        image = result.files[0]
        return await image_response(image.path, media_type=image.media_type, what="the output image")
    return JSONResponse(result.outputs)
