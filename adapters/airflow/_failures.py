"""Which failures of a service call Airflow should retry: the one rule operator and trigger share.

Airflow retries a task that raises `AirflowException` (per its `retries` / `retry_delay`) and
fails it for good on `AirflowFailException`. Only a mistake of the caller is final, since
running the same request again would be refused again:

| failure | final? |
|---|---|
| 4xx answer (bad input, unauthorised, unknown route) but 429 | final |
| 501 (not implemented), an answer that is not the API's (UnexpectedResponse) | final |
| a job CANCELLED (someone stopped it on purpose) | final |
| 429, 5xx (503 queue full, 500 algorithm failure), no answer at all (refused, reset, timeout) | retried |
| a job FAILED (the algorithm raised, or "interrupted": the service stopped mid-job) | retried |
| the job did not finish by its deadline (it is cancelled first) | retried |
| a job the service no longer knows (404 while polling: its state was lost) | retried |
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException, AirflowFailException
from pesto_factory.adapters.client import (
    JobFailed,
    ServiceError,
    ServiceUnreachable,
    WaitTimeout,
)

__all__ = ["BUSY_STATUSES", "is_busy", "is_final", "job_is_final", "task_exception"]

#: Answers that mean "not now": the request did not run, and Retry-After says when to come back.
BUSY_STATUSES = frozenset({429, 503})


def job_is_final(status: str) -> bool:
    """Whether a finished-but-not-succeeded job should fail its task without retry."""
    return status == "CANCELLED"


def is_final(error: ServiceError) -> bool:
    """Whether `error` is the caller's mistake (no retry) rather than a passing condition."""
    if isinstance(error, JobFailed):
        return job_is_final(error.status)
    if isinstance(error, (ServiceUnreachable, WaitTimeout)):
        return False
    return not error.retryable


def is_busy(error: ServiceError) -> bool:
    """Whether the request surely did not run and may simply be sent again after a wait: the
    service answered 429/503, or the connection was never made."""
    if error.status_code in BUSY_STATUSES:
        return True
    return isinstance(error, ServiceUnreachable) and bool(error.retryable)


def task_exception(what: str, error: ServiceError) -> AirflowException:
    """The Airflow exception for `error` during `what`: final or retried (module table)."""
    message = f"{what}: {error.message}"
    if error.hint:
        message += f" (hint: {error.hint})"
    return AirflowFailException(message) if is_final(error) else AirflowException(message)
