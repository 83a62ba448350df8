"""Jobs: their states, their durable store, and the worker processes that run them."""

from __future__ import annotations

from pesto_factory.runtime.jobs.models import Job, JobStatus, ResultFile

__all__ = ["Job", "JobStatus", "ResultFile"]
