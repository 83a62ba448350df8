"""`PestoJobTrigger`: waits, in the triggerer's event loop, for an asynchronous job to finish.

A deferrable `PestoProcessOperator` submits a job and defers to this trigger, which polls the
job's status with the `AsyncServiceClient` (a sleep between polls) and fires one event of JSON
primitives:

    {"status": "success", "job_id": "...", "message": "..."}
    {"status": "error", "job_id": "...", "message": "...", "retryable": false}

Its kwargs are JSON primitives too (the triggerer stores them): the connection id, the job id,
the poll interval and the deadline. Outputs are fetched afterwards by the operator, never
carried in the event.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent
from pesto_factory.adapters.client import JobFailed, JobState, ServiceError

__all__ = ["PestoJobTrigger"]

logger = logging.getLogger(__name__)


class PestoJobTrigger(BaseTrigger):
    """Fires when job `job_id` of the service of connection `pesto_conn_id` has finished.

    `timeout` (seconds, None for none) bounds the wait: after it the event is an error."""

    def __init__(self, *, pesto_conn_id: str, job_id: str, poll_interval: float = 2.0,
                 timeout: float | None = None) -> None:
        super().__init__()
        self.pesto_conn_id = pesto_conn_id
        self.job_id = job_id
        self.poll_interval = poll_interval
        self.timeout = timeout

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("pesto_factory.adapters.airflow.triggers.pesto.PestoJobTrigger",
                {"pesto_conn_id": self.pesto_conn_id, "job_id": self.job_id,
                 "poll_interval": self.poll_interval, "timeout": self.timeout})

    def _hook(self) -> Any:
        from pesto_factory.adapters.airflow.hooks.pesto import PestoHook

        return PestoHook(self.pesto_conn_id)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            client = await self._hook().aget_conn()
            async with client:
                state: JobState = await client.wait(
                    self.job_id, poll_interval=self.poll_interval, timeout=self.timeout,
                    on_status=lambda s: logger.info("job %s: %s (%s%%)", s.job_id,
                                                    s.status.value, s.progress))
        except JobFailed as error:
            yield TriggerEvent(_error(self.job_id, error.service_message, retryable=False))
            return
        except ServiceError as error:
            yield TriggerEvent(_error(self.job_id, error.message, retryable=error.retryable))
            return
        except Exception as error:  # noqa: BLE001 - entry point: a typed failure event
            logger.exception("waiting for job %s failed", self.job_id)
            yield TriggerEvent(_error(self.job_id, f"{type(error).__name__}: {error}",
                                      retryable=False))
            return
        yield TriggerEvent({"status": "success", "job_id": state.job_id,
                            "message": state.message or f"job {state.job_id} SUCCEEDED"})


def _error(job_id: str, message: str, *, retryable: bool) -> dict[str, Any]:
    return {"status": "error", "job_id": job_id, "message": message, "retryable": retryable}
