"""A job as an OGC `statusInfo`: the same job the geoprocessing API shows, in OGC words.

    ACCEPTED -> accepted, RUNNING -> running, SUCCEEDED -> successful, FAILED -> failed,
    CANCELLED -> dismissed
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pesto_factory.runtime.jobs.models import Job, JobStatus

__all__ = ["OGC_STATUS", "RESULTS_REL", "from_ogc_status", "status_info"]

RESULTS_REL = "http://www.opengis.net/def/rel/ogc/1.0/results"
OGC_STATUS = {
    JobStatus.ACCEPTED: "accepted",
    JobStatus.RUNNING: "running",
    JobStatus.SUCCEEDED: "successful",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "dismissed",
}
_FROM_OGC = {value: key for key, value in OGC_STATUS.items()}


def from_ogc_status(name: str) -> JobStatus | None:
    return _FROM_OGC.get(name)


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


def status_info(job: Job, base: str, process_id: str) -> dict[str, Any]:
    url = f"{base}/jobs/{job.id}"
    body: dict[str, Any] = {
        "type": "process", "processID": process_id, "jobID": job.id,
        "status": OGC_STATUS[job.status], "progress": job.progress,
    }
    for key, value in (("created", job.created), ("started", job.started),
                       ("finished", job.finished),
                       ("updated", job.finished or job.started or job.created)):
        if value:
            body[key] = _iso(value)
    if job.message:
        body["message"] = job.message
    links = [{"href": url, "rel": "self", "type": "application/json", "title": "job status"},
             {"href": f"{base}/api/v1/jobs/{job.id}/status", "rel": "alternate",
              "type": "application/json", "title": "the job in the geoprocessing API"}]
    if job.status is JobStatus.SUCCEEDED:
        links.append({"href": f"{url}/results", "rel": RESULTS_REL, "type": "application/json",
                      "title": "job results"})
    body["links"] = links
    return body
