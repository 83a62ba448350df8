"""The callback subscriber: the service POSTs a job's news to the URIs its client gave.

    inProgressUri <- statusInfo when the job starts running
    successUri    <- the results document when it succeeded
    failedUri     <- statusInfo (status failed or dismissed, with the reason) when it did not

A callback makes the service send a request wherever the client says: that is only allowed to
the remote hosts the operator lists in PESTO_REMOTE_HOSTS (the allowlist of remote inputs,
`runtime/imageio/policy.py`), and refused outright when the list is empty. A callback that fails
is logged and dropped: the job's outcome stays readable at /jobs/{jobId}.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from pesto_factory.runtime.api.ogc.execution import Subscriber
from pesto_factory.runtime.errors import BadRequest, Forbidden
from pesto_factory.runtime.imageio.policy import InputPolicy, check_uri, display_uri
from pesto_factory.runtime.jobs.models import Job, JobStatus

__all__ = ["Callbacks"]

logger = logging.getLogger(__name__)

_TIMEOUT = 10.0


class Callbacks:
    """Checks subscribers against the allowlist and sends their callbacks in the background."""

    def __init__(self, policy: InputPolicy, *, timeout: float = _TIMEOUT) -> None:
        self.policy = policy
        self.timeout = timeout
        self._tasks: set[asyncio.Task] = set()

    def check(self, subscriber: Subscriber) -> None:
        """Forbidden (403) unless every URI is http(s) to an allowed host."""
        for uri in subscriber.uris():
            scheme = urlsplit(uri).scheme.lower()
            if scheme not in ("http", "https"):
                raise BadRequest(f"subscriber URI {display_uri(uri)!r}: expected http(s)://")
            if self.policy.remote_hosts is None:
                raise Forbidden("callbacks are disabled on this service: no remote host is "
                                "allowed", hint="the operator lists the hosts callbacks may go "
                                "to in PESTO_REMOTE_HOSTS")
            check_uri(uri, self.policy, field="subscriber")

    def watcher(self, subscriber: Subscriber, status: Callable[[Job], dict[str, Any]],
                results: Callable[[Job], dict[str, Any]]) -> Callable[[Job], None]:
        """The job watcher (`ProcessingService.submit_async(watch=)`) of one subscriber;
        `status` and `results` make the bodies sent."""

        def watch(job: Job) -> None:
            if job.status is JobStatus.RUNNING and subscriber.in_progress_uri:
                self._send(subscriber.in_progress_uri, status(job), job.id)
            elif job.status is JobStatus.SUCCEEDED and subscriber.success_uri:
                self._send(subscriber.success_uri, results(job), job.id)
            elif job.status.finished and job.status is not JobStatus.SUCCEEDED \
                    and subscriber.failed_uri:
                self._send(subscriber.failed_uri, status(job), job.id)

        return watch

    def _send(self, uri: str, body: dict[str, Any], job_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._post(uri, body, job_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, uri: str, body: dict[str, Any], job_id: str) -> None:
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as http:
                response = await http.post(uri, json=body)
            if response.status_code >= 400:
                logger.warning("callback of job %s to %s answered %d", job_id,
                               display_uri(uri), response.status_code)
        except httpx.HTTPError as exc:
            logger.warning("callback of job %s to %s failed: %s", job_id, display_uri(uri),
                           type(exc).__name__)
