"""Describe, health, version, config and the geoprocessing OpenAPI document."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response
from pesto_factory import runtime
from pesto_factory.runtime.api.deps import Service, base_url, require_token

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


@lru_cache(maxsize=1)
def _geoprocessing_spec() -> dict[str, Any]:
    text = resources.files("pesto_factory.runtime").joinpath("openapi/api_geo_process.yaml").read_text("utf-8")
    return yaml.safe_load(text)


@router.get("/openapi")
async def openapi(request: Request, service: Service) -> Response:
    """The geoprocessing-api spec, with this service's title, version and input schema."""
    spec = _geoprocessing_spec()
    document = {**spec, "info": {**spec["info"], "title": service.describe["title"],
                                 "version": service.describe["version"]},
                "servers": [{"url": base_url(request, service)}]}
    components = {**spec["components"]}
    components["schemas"] = {**components["schemas"], "ProcessInput": service.describe["input"]}
    document["components"] = components
    return Response(yaml.safe_dump(document, sort_keys=False), media_type="application/yaml")
