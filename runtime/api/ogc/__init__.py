"""OGC API - Processes - Part 1: Core, at the service's root, over the same job engine.

One router per resource (`landing`: `/`, `/conformance`, `/api`; `processes`; `jobs`),
assembled in `router`. Errors are RFC 7807 problem details (`problems`); the process
description is generated from the describe document (`description`); an execute request
becomes the payload of the geoprocessing API (`execution`), and outputs become OGC values
(`results`); jobs are the geoprocessing jobs seen in OGC words (`status`); subscribers get
callbacks (`callbacks`); `route` answers errors as problems and JSON as HTML to browsers
(`html`). See docs/ogc.md.
"""

from __future__ import annotations

from fastapi import APIRouter
from pesto_factory.runtime.api.ogc import jobs, landing, processes

__all__ = ["router"]

router = APIRouter()
for _module in (landing, processes, jobs):
    router.include_router(_module.router)
