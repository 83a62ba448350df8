"""Processes: the list (one process: this service's), its description, and execution.

POST /processes/{processId}/execution runs synchronously unless the client prefers otherwise
(`Prefer: respond-async`, the standard's default for a process that can do both): then the job
is created in the same job store as /api/v1/jobs and answered 201 with its statusInfo.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pesto_factory.runtime.api.deps import require_token
from pesto_factory.runtime.api.ogc.deps import Ogc, OgcContext
from pesto_factory.runtime.api.ogc.execution import ExecuteRequest, parse_execute
from pesto_factory.runtime.api.ogc.results import raw_response, results_document
from pesto_factory.runtime.api.ogc.route import OgcRoute
from pesto_factory.runtime.api.ogc.status import status_info
from pesto_factory.runtime.api.routes.process import wants_async
from pesto_factory.runtime.errors import BadRequest
from pesto_factory.runtime.jobs.models import Job

__all__ = ["router"]

router = APIRouter(prefix="/processes", tags=["ogc"], route_class=OgcRoute,
                   dependencies=[Depends(require_token)])


@router.get("", summary="the processes of this service")
async def processes(ogc: Ogc) -> dict[str, Any]:
    return {"processes": [ogc.process.summary(ogc.base)],
            "links": [{"href": f"{ogc.base}/processes", "rel": "self",
                       "type": "application/json", "title": "processes"}]}


@router.get("/{processId}", summary="process description")
async def process(processId: str, ogc: Ogc) -> dict[str, Any]:  # noqa: N803 - the spec's name
    ogc.check_process(processId)
    return ogc.process.description(ogc.base)


@router.post("/{processId}/execution", summary="execute the process")
async def execute(processId: str, request: Request, ogc: Ogc) -> Response:  # noqa: N803
    ogc.check_process(processId)
    body = await _json_body(request)
    execute_request = parse_execute(body, ogc.process)
    ogc.service.check(execute_request.payload)
    if execute_request.subscriber is not None:
        ogc.callbacks.check(execute_request.subscriber)
    if wants_async(request) or (isinstance(body, dict) and body.get("mode") == "async"):
        job = _submit(ogc, execute_request)
        info = status_info(job, ogc.base, ogc.process.id)
        return JSONResponse(info, status_code=201,
                            headers={"Location": f"{ogc.base}/jobs/{job.id}",
                                     "Preference-Applied": "respond-async"})
    result = await ogc.service.run_sync(execute_request.payload,
                                        inline=execute_request.inline)
    if execute_request.raw:
        return raw_response(result.outputs, result.files, ogc.process, execute_request)
    return JSONResponse(results_document(result.outputs, ogc.process,
                                         wanted=execute_request.outputs))


def _submit(ogc: OgcContext, request: ExecuteRequest) -> Job:
    watch = None
    if request.subscriber is not None:
        base, process = ogc.base, ogc.process
        watch = ogc.callbacks.watcher(
            request.subscriber,
            status=lambda job: status_info(job, base, process.id),
            results=lambda job: results_document(job.outputs, process, wanted=request.outputs))
    job = ogc.service.submit_async(request.payload, inline=request.inline, watch=watch)
    ogc.requests.remember(job.id, request)
    return job


async def _json_body(request: Request) -> Any:
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if content_type not in ("application/json", "") and not content_type.endswith("+json"):
        raise BadRequest(f"unsupported content type {content_type!r}",
                         hint="an execute request is application/json")
    body = await request.body()
    try:
        return json.loads(body or b"{}")
    except json.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc.msg} at line {exc.lineno}, "
                         f"column {exc.colno}") from None
    except (UnicodeDecodeError, RecursionError):
        raise BadRequest("request body is not UTF-8 JSON of a reasonable depth") from None
