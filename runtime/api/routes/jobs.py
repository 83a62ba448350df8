"""Asynchronous jobs: submit, list, status, results, cancel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pesto_factory.runtime.api.deps import Service, base_url, require_token
from pesto_factory.runtime.api.routes.process import read_payload, wants_inline
from pesto_factory.runtime.api.views import accepted_response, image_response, status_body
from pesto_factory.runtime.jobs.models import JobStatus

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"], dependencies=[Depends(require_token)])


@router.post("", status_code=201)
async def submit(request: Request, service: Service) -> JSONResponse:
    inline = wants_inline(request)
    payload = await read_payload(request, service)
    job = service.submit_async(payload, inline=inline)
    return accepted_response(job, base_url(request, service))


@router.get("")
async def list_jobs(
    request: Request, service: Service,
    status: Annotated[JobStatus | None, Query(description="only jobs in this state")] = None,
    limit: Annotated[int, Query(ge=1, le=10000, description="page size")] = 1000,
    offset: Annotated[int, Query(ge=0, description="jobs to skip")] = 0,
) -> list[dict[str, Any]]:
    """Jobs in submission order, a page at a time (`?status=RUNNING&limit=100&offset=200`)."""
    base = base_url(request, service)
    return [status_body(job, base) for job in service.jobs(status, limit=limit, offset=offset)]


@router.get("/{job_id}/status")
async def status(job_id: str, request: Request, service: Service) -> dict[str, Any]:
    return status_body(service.job(job_id), base_url(request, service))


@router.get("/{job_id}/results")
async def results(job_id: str, request: Request, service: Service) -> list[dict[str, Any]]:
    job = service.results(job_id)
    outputs = job.outputs if isinstance(job.outputs, dict) else {"result": job.outputs}
    media = {f.name: f.media_type for f in job.files}
    base = f"{base_url(request, service)}/api/v1/jobs/{job_id}/results"
    # `value` is the output exactly as a synchronous call answers it (file:// references for
    # images): a chained service reads it from shared storage, not through this service.
    return [{"id": name, "_link": {"href": f"{base}/{name}",
                                   "type": media.get(name, "application/json")},
             "value": value}
            for name, value in outputs.items()]


@router.get("/{job_id}/results/{result_id}")
async def result(job_id: str, result_id: str, service: Service) -> Response:
    value, file = service.result(job_id, result_id)
    if file is None:
        return JSONResponse(value)
    return await image_response(file.path, media_type=file.media_type,
                          what=f"result {result_id!r} of job {job_id}")


@router.delete("/{job_id}", status_code=204)
async def delete(job_id: str, service: Service) -> Response:
    service.delete(job_id)
    return Response(status_code=204)
