"""Long service calls without a blocked worker thread: the job of a task is submitted once
(`POST /jobs`), its id kept in the task's output, and checked once per re-poll.

Conductor puts a task answered IN_PROGRESS with callbackAfterSeconds back to SCHEDULED,
postponed by that delay, its output replaced by the answer's (WorkflowExecutorOps.updateTask),
and hands it to a worker again with that output: so the next poll, by this worker or another
one if this one died, finds the job by the id kept there and checks it once
(`GET /jobs/{id}/status`). A task cancelled or timed out on the server is never polled again:
`JobWatcher` (one thread per worker process) asks Conductor about the tasks whose jobs it knows
and cancels (`DELETE /jobs/{id}`) the jobs of those that ended without them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from pesto_factory.adapters.client import ServiceClient
from pesto_factory.adapters.client.models import JobStatus

__all__ = ["JOB_KEY", "JobWatcher", "check_job", "job_outputs"]

log = logging.getLogger(__name__)

#: The task output key holding the service job of a long task: {"id": ..., "service": URL}.
JOB_KEY = "__pesto_job"
_ENDED = ("CANCELED", "TIMED_OUT", "FAILED", "FAILED_WITH_TERMINAL_ERROR", "SKIPPED")


def job_outputs(client: ServiceClient, job_id: str) -> dict[str, Any]:
    """A finished job's outputs as the synchronous call gives them (listed values, JSON
    results read, other results by URL)."""
    outputs = {}
    for name, link in client.results(job_id).items():
        if link.has_value:
            outputs[name] = link.value
        elif link.is_json:
            outputs[name] = client.result(job_id, name)
        else:
            outputs[name] = {"href": link.href}
    return outputs


def check_job(client: ServiceClient, job_id: str) -> tuple[str, Any]:
    """One look at a job: ("running", None), ("done", outputs) or ("failed", message)."""
    state = client.status(job_id)
    if state.status is JobStatus.SUCCEEDED:
        return "done", job_outputs(client, job_id)
    if state.status.finished:
        return "failed", f"job {job_id} {state.status.value}: {state.message or 'no reason'}"
    return "running", None


class JobWatcher:
    """Cancels the service jobs of tasks that ended on the server without their worker (a
    cancelled workflow, a timed-out task). `task_status(task_id)` asks Conductor."""

    def __init__(self, task_status: Callable[[str], str | None],
                 cancel: Callable[[str, str], None], *, interval: float = 5.0) -> None:
        self._status = task_status
        self._cancel = cancel
        self._interval = interval
        self._jobs: dict[str, tuple[str, str]] = {}  # task id -> (service URL, job id)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, task_id: str, service: str, job_id: str) -> None:
        with self._lock:
            self._jobs[task_id] = (service, job_id)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="pesto-job-watcher")
                self._thread.start()

    def forget(self, task_id: str) -> None:
        with self._lock:
            self._jobs.pop(task_id, None)

    def watched(self) -> Mapping[str, tuple[str, str]]:
        with self._lock:
            return dict(self._jobs)

    def check(self) -> None:
        """One round: cancel the jobs of tasks that ended."""
        for task_id, (service, job_id) in self.watched().items():
            try:
                status = self._status(task_id)
            except Exception as error:  # noqa: BLE001 - Conductor unreachable: next round
                log.warning("task %s: status unknown (%s)", task_id, error)
                continue
            if status in _ENDED:
                log.info("task %s %s on the server: cancelling job %s", task_id, status, job_id)
                try:
                    self._cancel(service, job_id)
                except Exception as error:  # noqa: BLE001 - the job may have ended already
                    log.warning("job %s: not cancelled (%s)", job_id, error)
                self.forget(task_id)
            elif status == "COMPLETED":
                self.forget(task_id)

    def _run(self) -> None:
        while True:
            time.sleep(self._interval)
            self.check()
