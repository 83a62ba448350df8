"""JSON views of jobs shared by the process and jobs routers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pesto_factory.runtime.errors import NotFound
from pesto_factory.runtime.jobs.models import Job
from starlette.concurrency import run_in_threadpool

__all__ = ["status_body", "accepted_response", "ImageFileResponse", "image_response"]


class ImageFileResponse(FileResponse):
    """A file response in 1 MiB chunks: Starlette's 64 KiB chunks cost one thread hop each,
    which dominates sending a tile of several MiB."""

    chunk_size = 1 << 20


async def image_response(location: str, *, media_type: str, what: str) -> Response:
    """An output image as bytes, from a local file or streamed from the object store (the
    object is opened first, so a missing one is a clean 404/422/503, not a broken stream)."""
    from pesto_factory.runtime.imageio.objectstore import (
        ObjectLocation,
        ObjectNotFound,
        is_object_uri,
        iter_object,
    )

    if is_object_uri(location):
        source = ObjectLocation.parse(location)
        chunks = iter_object(source)
        try:
            first = await run_in_threadpool(next, chunks, b"")  # the store is not the loop's
        except ObjectNotFound:
            raise NotFound(f"{what} was removed from storage ({location})") from None

        def body():
            yield first
            yield from chunks

        name = source.key.rsplit("/", 1)[-1]
        return StreamingResponse(body(), media_type=media_type,
                                 headers={"Content-Disposition": f'attachment; filename="{name}"'})
    path = Path(location)
    if not path.is_file():
        raise NotFound(f"{what} was removed from storage")
    return ImageFileResponse(path, media_type=media_type, filename=path.name)


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
    if job.retryable:
        body["retryable"] = True  # failed for a passing cause: the same job may succeed later
    return body


def accepted_response(job: Job, base: str) -> JSONResponse:
    body = status_body(job, base)
    return JSONResponse(body, status_code=201, headers={"Location": body["_links"]["self"]["href"]})
