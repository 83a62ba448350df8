"""Values of the geoprocessing job API as the client sees them: job states, references, results.

They are built from the service's JSON once, checked, and frozen: callers never handle the raw
status bodies. The job states are the API's, not the runtime's enum (adapters never import
the runtime's internals).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from pesto_factory.adapters.client.errors import UnexpectedResponse

__all__ = ["JobRef", "JobState", "JobStatus", "ResultLink"]


class JobStatus(StrEnum):
    ACCEPTED = "ACCEPTED"  # queued, waiting for a worker
    RUNNING = "RUNNING"  # a worker is running the algorithm
    SUCCEEDED = "SUCCEEDED"  # done: results can be read
    FAILED = "FAILED"  # the algorithm raised, crashed, timed out or was interrupted
    CANCELLED = "CANCELLED"  # stopped on a client's request; results removed

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True)
class JobRef:
    """An asynchronous job of one service: its id and its status URL (the Location header)."""

    id: str
    href: str


@dataclass(frozen=True)
class JobState:
    """One reading of a job's status route."""

    job_id: str
    status: JobStatus
    progress: int | None = None
    message: str | None = None
    created: str | None = None
    started: str | None = None
    finished: str | None = None
    links: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    retryable: bool = False  # a FAILED job the service says may succeed if submitted again

    @classmethod
    def from_body(cls, body: Any, *, url: str = "") -> JobState:
        """Parse a status body; UnexpectedResponse when it is not one."""
        if not isinstance(body, dict) or not isinstance(body.get("jobId"), str):
            raise UnexpectedResponse(f"{url}: not a job status body: {str(body)[:200]}", url=url)
        try:
            status = JobStatus(body.get("status"))
        except ValueError:
            raise UnexpectedResponse(f"{url}: unknown job status {body.get('status')!r}",
                                     url=url) from None
        links = {name: link["href"] for name, link in (body.get("_links") or {}).items()
                 if isinstance(link, dict) and isinstance(link.get("href"), str)}
        progress = body.get("progress")
        return cls(job_id=body["jobId"], status=status,
                   progress=int(progress) if isinstance(progress, (int, float)) else None,
                   message=body.get("message"), created=body.get("created"),
                   started=body.get("started"), finished=body.get("finished"),
                   links=MappingProxyType(links), retryable=body.get("retryable") is True)

    @property
    def ref(self) -> JobRef:
        return JobRef(self.job_id, self.links.get("self", ""))


@dataclass(frozen=True)
class ResultLink:
    """One result of a finished job: `href` serves it (JSON value, or file bytes for images)."""

    id: str
    href: str
    media_type: str = "application/json"
    #: The output as a synchronous call answers it (file:// references for images), when the
    #: service lists it (PESTO runtimes do); `has_value` tells a listed null from no value.
    value: Any = None
    has_value: bool = False

    @property
    def is_json(self) -> bool:
        return self.media_type == "application/json" or self.media_type.endswith("+json")
