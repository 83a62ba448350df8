"""What a job is: one execution of the algorithm on one input, and its lifecycle.

    ACCEPTED -> RUNNING -> SUCCEEDED | FAILED | CANCELLED
    ACCEPTED -> CANCELLED

A job interrupted by a service stop is FAILED with reason "interrupted" when the service starts
again (it is not re-run: its caller decides, since the algorithm may not be idempotent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["JobStatus", "Job", "ResultFile", "INTERRUPTED"]

INTERRUPTED = "interrupted: the service stopped before the job finished"


class JobStatus(StrEnum):
    ACCEPTED = "ACCEPTED"  # queued, waiting for a worker
    RUNNING = "RUNNING"  # a worker is running the algorithm
    SUCCEEDED = "SUCCEEDED"  # outputs are available as results
    FAILED = "FAILED"  # the algorithm raised, crashed, timed out or was interrupted
    CANCELLED = "CANCELLED"  # stopped on the client's request; results removed

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True)
class ResultFile:
    """An output written to a file (an image): served as bytes with its media type."""

    name: str
    path: str
    media_type: str


@dataclass(frozen=True)
class Job:
    id: str
    status: JobStatus
    progress: int = 0
    message: str | None = None
    created: float = 0.0
    started: float | None = None
    finished: float | None = None
    outputs: Any = None
    files: tuple[ResultFile, ...] = field(default=())
    retryable: bool = False  # FAILED for a passing cause (store unreachable): worth a retry
