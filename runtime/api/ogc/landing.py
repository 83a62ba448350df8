"""The OGC API's root resources: landing page (`/`), conformance and the API definition."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pesto_factory.runtime.api.deps import require_token
from pesto_factory.runtime.api.ogc.deps import Ogc
from pesto_factory.runtime.api.ogc.openapi import OPENAPI_MEDIA_TYPE, openapi_document
from pesto_factory.runtime.api.ogc.route import OgcRoute

__all__ = ["CONFORMANCE", "router"]

_CONF = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf"
CONFORMANCE = tuple(f"{_CONF}/{name}" for name in (
    "core", "ogc-process-description", "json", "html", "oas30", "job-list", "dismiss",
    "callback"))
_REL = "http://www.opengis.net/def/rel/ogc/1.0"
_JSON = "application/json"

router = APIRouter(tags=["ogc"], route_class=OgcRoute, dependencies=[Depends(require_token)])


@router.get("/", summary="landing page")
async def landing(ogc: Ogc) -> dict[str, Any]:
    base = ogc.base
    describe = ogc.service.describe
    return {
        "title": describe.get("title", ogc.process.id),
        "description": describe.get("description", ""),
        "links": [
            {"href": f"{base}/", "rel": "self", "type": _JSON, "title": "this document"},
            {"href": f"{base}/api", "rel": "service-desc", "type": OPENAPI_MEDIA_TYPE,
             "title": "the API definition"},
            {"href": f"{base}/conformance", "rel": "conformance", "type": _JSON,
             "title": "conformance classes"},
            {"href": f"{base}/conformance", "rel": f"{_REL}/conformance", "type": _JSON,
             "title": "conformance classes"},
            {"href": f"{base}/processes", "rel": f"{_REL}/processes", "type": _JSON,
             "title": "processes"},
            {"href": f"{base}/jobs", "rel": f"{_REL}/job-list", "type": _JSON,
             "title": "jobs"},
            {"href": f"{base}/api/v1/describe", "rel": "alternate", "type": _JSON,
             "title": "the geoprocessing-api describe document"},
        ],
    }


@router.get("/conformance", summary="conformance classes")
async def conformance() -> dict[str, Any]:
    return {"conformsTo": list(CONFORMANCE)}


@router.get("/api", summary="OpenAPI 3.0 definition of the OGC API")
async def api(ogc: Ogc) -> JSONResponse:
    return JSONResponse(openapi_document(ogc.base, ogc.process, ogc.service.describe),
                        media_type=OPENAPI_MEDIA_TYPE)
