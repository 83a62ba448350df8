"""`PestoJobTrigger`: waits, in the triggerer's event loop, for a service's asynchronous jobs.

A deferrable `PestoProcessOperator` submits one job per call (a window of a batch) and defers
to this trigger, which polls each unfinished job's status with the `AsyncServiceClient` and
fires one event of JSON primitives when all succeeded or the first did not:

    {"status": "success", "job_ids": [...], "job_id": FIRST, "message": "...", "carry": {...}}
    {"status": "error", "job_ids": [...], "job_id": ID, "message": "...", "retryable": bool,
     "carry": {...}}

Polling backs off: `poll_interval` seconds after the first round, times 1.5 each round up to
`max_poll_interval`, so the load on a service is at most one status request per job per
`poll_interval` and settles at one per `max_poll_interval`. A failed poll (5xx, 429, no answer)
is tolerated up to `max_poll_errors` times in a row (waiting Retry-After when given): a service
restarting mid-job is not a failure of the task.

The kwargs are JSON primitives (the triggerer stores them), and `deadline` is an absolute UNIX
time: a triggerer restart re-creates the trigger from them, so the deadline does not restart.
`on_kill` (a user marked the deferred task failed/success or cleared it) cancels the jobs still
running; `cleanup` (every exit, triggerer shutdown included) only releases the client.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent
from pesto_factory.adapters.airflow._failures import job_is_final
from pesto_factory.adapters.client import JobStatus, ServiceError

__all__ = ["PestoJobTrigger"]

logger = logging.getLogger(__name__)

#: How much slower each polling round gets, up to max_poll_interval.
BACKOFF = 1.5


class PestoJobTrigger(BaseTrigger):
    """Fires when the jobs `job_ids` (or the one `job_id`) of the service of connection
    `pesto_conn_id` have finished, or at `deadline` (UNIX time; `timeout` seconds from now
    sets it), or after `max_poll_errors` failed polls in a row."""

    def __init__(self, *, pesto_conn_id: str, job_id: str | None = None,
                 job_ids: Sequence[str] | None = None, poll_interval: float = 2.0,
                 max_poll_interval: float = 30.0, timeout: float | None = None,
                 deadline: float | None = None, max_poll_errors: int = 10,
                 carry: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        ids = list(job_ids or ([job_id] if job_id else []))
        if not ids:
            raise ValueError("PestoJobTrigger needs job_id or job_ids")
        self.pesto_conn_id = pesto_conn_id
        self.job_ids = ids
        self.poll_interval = poll_interval
        self.max_poll_interval = max(max_poll_interval, poll_interval)
        self.deadline = deadline if deadline is not None or timeout is None \
            else time.time() + timeout
        self.max_poll_errors = max_poll_errors
        self.carry = dict(carry or {})
        self._pending: list[str] = list(ids)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("pesto_factory.adapters.airflow.triggers.pesto.PestoJobTrigger",
                {"pesto_conn_id": self.pesto_conn_id, "job_ids": list(self.job_ids),
                 "poll_interval": self.poll_interval, "max_poll_interval": self.max_poll_interval,
                 "deadline": self.deadline, "max_poll_errors": self.max_poll_errors,
                 "carry": self.carry})

    def _hook(self) -> Any:
        from pesto_factory.adapters.airflow.hooks.pesto import PestoHook

        return PestoHook(self.pesto_conn_id)

    def _fire(self, payload: dict[str, Any], why: str) -> TriggerEvent:
        logger.info("connection %s, job(s) %s: firing: %s", self.pesto_conn_id,
                    ", ".join(self.job_ids), why)
        return TriggerEvent({"job_ids": list(self.job_ids), **payload, "carry": self.carry})

    def _error(self, job_id: str, message: str, *, retryable: bool) -> TriggerEvent:
        return self._fire({"status": "error", "job_id": job_id, "message": message,
                           "retryable": retryable}, message)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        started = time.monotonic()
        try:
            client = await self._hook().aget_conn()
        except Exception as error:  # noqa: BLE001 - a connection that cannot be read: typed event
            yield self._error(self.job_ids[0], f"connection {self.pesto_conn_id!r}: {error}",
                              retryable=False)
            return
        interval, errors = self.poll_interval, 0
        async with client:
            while self._pending:
                pause = interval
                try:
                    for job_id in list(self._pending):
                        state = await client.status(job_id)
                        if state.status is JobStatus.SUCCEEDED:
                            self._pending.remove(job_id)
                        elif state.status.finished:
                            reason = state.message or "no reason given"
                            yield self._error(job_id, f"job {job_id} {state.status.value}: "
                                              f"{reason}",
                                              retryable=not job_is_final(state.status.value))
                            await self._cancel(client, self._pending)
                            return
                    errors = 0
                except ServiceError as error:
                    errors += 1
                    lost = error.status_code == 404  # the service lost its jobs: run again
                    refused = not error.retryable and error.status_code is not None
                    if lost or refused or errors > self.max_poll_errors:
                        yield self._error(self._pending[0], f"polling failed ({errors} in a "
                                          f"row): {error.message}",
                                          retryable=lost or error.retryable)
                        return
                    logger.warning("poll %d/%d of job(s) failed, tolerated: %s", errors,
                                   self.max_poll_errors, error.message)
                    pause = max(interval, error.retry_after or 0.0)
                if not self._pending:
                    break
                if self.deadline is not None:
                    left = self.deadline - time.time()
                    if left <= 0:
                        await self._cancel(client, self._pending)
                        yield self._error(self._pending[0], f"job(s) {', '.join(self._pending)}"
                                          " did not finish by the deadline (cancelled)",
                                          retryable=True)
                        return
                    pause = min(pause, left)
                await asyncio.sleep(pause)
                interval = min(interval * BACKOFF, self.max_poll_interval)
        took = time.monotonic() - started
        yield self._fire({"status": "success", "job_id": self.job_ids[0],
                          "message": f"{len(self.job_ids)} job(s) SUCCEEDED"},
                         f"all {len(self.job_ids)} job(s) SUCCEEDED after {took:.1f} s of waiting")

    async def _cancel(self, client: Any, job_ids: Sequence[str]) -> None:
        """Best effort: a job that cannot be cancelled now finishes on its own."""
        for job_id in list(job_ids):
            try:
                await client.cancel(job_id)
                logger.info("job %s cancelled", job_id)
            except ServiceError as error:
                logger.warning("could not cancel job %s: %s", job_id, error.message)

    async def on_kill(self) -> None:
        """The user acted on the deferred task: cancel the jobs still running."""
        if not self._pending:
            return
        client = await self._hook().aget_conn()
        async with client:
            await self._cancel(client, self._pending)
