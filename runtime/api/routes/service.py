"""Describe, health, version, config and the geoprocessing OpenAPI document."""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response
from pesto_factory import runtime
from pesto_factory.runtime.api.deps import Service, base_url, require_token
from pesto_factory.runtime.api.openapi import geoprocessing_document

__all__ = ["public_router", "router"]

public_router = APIRouter(prefix="/api/v1", tags=["service"])
router = APIRouter(prefix="/api/v1", tags=["service"], dependencies=[Depends(require_token)])


@public_router.get("/health", response_class=PlainTextResponse)
async def health(service: Service) -> PlainTextResponse:
    """OK once the algorithm can run; 503 while it starts, or with the reason it cannot."""
    error = service.pool.start_error
    if error:
        return PlainTextResponse(error, status_code=503)
    if not service.pool.started:
        return PlainTextResponse("starting: the algorithm is loading", status_code=503)
    return PlainTextResponse("OK")


def links(base: str) -> dict[str, dict[str, str]]:
    api = f"{base}/api/v1"
    return {
        "self": {"href": f"{api}/describe", "type": "application/json"},
        "execution": {"href": f"{api}/process", "method": "POST", "type": "application/json"},
        "jobs": {"href": f"{api}/jobs", "method": "POST", "type": "application/json"},
        "config": {"href": f"{api}/config", "type": "application/json"},
        "version": {"href": f"{api}/version", "type": "application/json"},
        "health": {"href": f"{api}/health", "type": "text/plain"},
        "metrics": {"href": f"{api}/metrics", "type": "text/plain"},
        "documentation": {"href": f"{api}/openapi", "type": "application/yaml"},
    }


@router.get("/describe")
async def describe(request: Request, service: Service) -> dict[str, Any]:
    return {**service.describe, "_links": links(base_url(request, service))}


@router.get("/version")
async def version(service: Service) -> dict[str, Any]:
    packaged = service.project.files.get("version") or {}
    return {
        "version": service.project.version,
        "runtime": runtime.__version__,
        "profiles": list(service.project.profiles),
        **packaged,
    }


@router.get("/config")
async def config(service: Service) -> dict[str, Any]:
    return service.project.config


@router.get("/openapi")
async def openapi(request: Request, service: Service) -> Response:
    """This service's OpenAPI document in YAML, under the geoprocessing-api spec's info."""
    document = geoprocessing_document(request.app.openapi(), base_url(request, service))
    return Response(yaml.safe_dump(document, sort_keys=False), media_type="application/yaml")
