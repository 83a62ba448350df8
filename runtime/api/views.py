"""JSON views of jobs shared by the process and jobs routers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.responses import FileResponse, JSONResponse
from pesto_factory.runtime.jobs.models import Job

__all__ = ["status_body", "accepted_response", "ImageFileResponse"]


class ImageFileResponse(FileResponse):
    """A file response in 1 MiB chunks: Starlette's 64 KiB chunks cost one thread hop each,
    which dominates sending a tile of several MiB."""

    chunk_size = 1 << 20


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")


def status_body(job: Job, base: str) -> dict[str, Any]:
    job_url = f"{base}/api/v1/jobs/{job.id}"
    body: dict[str, Any] = {
        "jobId": job.id,
        "status": job.status.value,
        "progress": job.progress,
        "created": _iso(job.created),
        "started": _iso(job.started),
        "finished": _iso(job.finished),
        "_links": {
            "self": {"href": f"{job_url}/status", "type": "application/json"},
            "results": {"href": f"{job_url}/results", "type": "application/json"},
            "cancel": {"href": job_url, "method": "DELETE"},
        },
    }
    if job.message:
        body["message"] = job.message
    return body


def accepted_response(job: Job, base: str) -> JSONResponse:
    body = status_body(job, base)
    return JSONResponse(body, status_code=201, headers={"Location": body["_links"]["self"]["href"]})
