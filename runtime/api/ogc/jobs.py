"""Jobs in OGC terms: list, status, results, dismiss. The store is the geoprocessing API's:
a job submitted at /api/v1/jobs is listed here, and one created here is at /api/v1/jobs."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response
from pesto_factory.runtime.api.deps import require_token
from pesto_factory.runtime.api.ogc.deps import Ogc
from pesto_factory.runtime.api.ogc.problems import NoSuchJob, ResultNotReady
from pesto_factory.runtime.api.ogc.results import raw_response, results_document
from pesto_factory.runtime.api.ogc.route import OgcRoute
from pesto_factory.runtime.api.ogc.status import from_ogc_status, status_info
from pesto_factory.runtime.errors import BadRequest, PestoError
from pesto_factory.runtime.jobs.models import Job, JobStatus

__all__ = ["router"]

router = APIRouter(prefix="/jobs", tags=["ogc"], route_class=OgcRoute,
                   dependencies=[Depends(require_token)])


class JobFailedProblem(PestoError):
    """GET /jobs/{id}/results of a failed job: the failure, as the standard asks."""

    status_code = 500
    problem_type = "https://pesto-factory.dev/problems/job-failed"


def _job(ogc: Ogc, job_id: str) -> Job:
    job = ogc.service.store.get(job_id)
    if job is None:
        raise NoSuchJob(f"no job {job_id!r}", hint="list jobs with GET /jobs")
    return job


@router.get("", summary="the jobs of this service")
async def jobs(
    ogc: Ogc,
    status: Annotated[list[str] | None, Query(description="only jobs in these states")] = None,
    processID: Annotated[list[str] | None, Query()] = None,  # noqa: N803 - the spec's name
    limit: Annotated[int, Query(ge=1, le=10000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    wanted = set()
    for name in status or ():
        state = from_ogc_status(name)
        if state is None:
            raise BadRequest(f"status={name!r}: expected accepted, running, successful, "
                             "failed or dismissed")
        wanted.add(state)
    found: list[Job] = []
    if not processID or ogc.process.id in processID:
        only = next(iter(wanted)) if len(wanted) == 1 else None
        found = [job for job in ogc.service.jobs(only, limit=limit + 1, offset=offset)
                 if not wanted or job.status in wanted]
    links = [{"href": f"{ogc.base}/jobs?limit={limit}&offset={offset}", "rel": "self",
              "type": "application/json"}]
    if len(found) > limit:
        found = found[:limit]
        links.append({"href": f"{ogc.base}/jobs?limit={limit}&offset={offset + limit}",
                      "rel": "next", "type": "application/json"})
    return {"jobs": [status_info(job, ogc.base, ogc.process.id) for job in found],
            "links": links}


@router.get("/{jobId}", summary="status of a job")
async def job_status(jobId: str, ogc: Ogc) -> dict[str, Any]:  # noqa: N803
    return status_info(_job(ogc, jobId), ogc.base, ogc.process.id)


@router.get("/{jobId}/results", summary="results of a job")
async def job_results(jobId: str, ogc: Ogc) -> Response:  # noqa: N803
    """The results as the execute request asked: its outputs, as a document or one raw."""
    job = _job(ogc, jobId)
    if job.status is JobStatus.SUCCEEDED:
        asked = ogc.requests.get(jobId)
        if asked is not None and asked.raw:
            return raw_response(job.outputs, job.files, ogc.process, asked)
        return JSONResponse(results_document(job.outputs, ogc.process,
                                             wanted=asked.outputs if asked else None))
    if job.status is JobStatus.FAILED:
        raise JobFailedProblem(f"job {jobId} failed: {job.message or 'no reason given'}")
    if job.status is JobStatus.CANCELLED:
        raise NoSuchJob(f"job {jobId} was dismissed: it has no results")
    raise ResultNotReady(f"job {jobId} is {job.status.value.lower()}: results are not ready",
                         hint=f"poll GET /jobs/{jobId} until it is successful")


@router.delete("/{jobId}", summary="dismiss a job")
async def dismiss(jobId: str, ogc: Ogc) -> dict[str, Any]:  # noqa: N803
    """Cancel a job that has not finished (its results are removed), forget a finished one."""
    job = _job(ogc, jobId)
    ogc.service.delete(jobId)
    after = ogc.service.store.get(jobId) or dataclasses.replace(
        job, status=JobStatus.CANCELLED, message="dismissed by the client")
    return status_info(after, ogc.base, ogc.process.id)
