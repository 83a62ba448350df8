"""What can go wrong calling a service, as one error tree under `ServiceError`.

A service answers failures with the geoprocessing Error body `{message, hint, correlationId,
timestamp}`; `error_from_response` turns that into a `ClientError` (4xx) or `ServerError` (5xx)
carrying the fields. A call that got no answer (refused, reset, timed out) is a
`ServiceUnreachable`: httpx's exceptions never leave the client (`transport_errors`).

Whether to try again is decided by `retryable`, set from the pure predicate `is_retryable` on
the status code (never from the text), and `retry_after` says how long the service asked to wait.
"""

from __future__ import annotations

import contextlib
import email.utils
import time
from collections.abc import Iterator
from typing import Any

import httpx
from pesto_factory.schemas.errors import PestoError

__all__ = [
    "ClientError",
    "JobFailed",
    "ServerError",
    "ServiceError",
    "ServiceUnreachable",
    "UnexpectedResponse",
    "WaitTimeout",
    "error_from_response",
    "is_retryable",
    "transport_errors",
]

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "PUT"})


def is_retryable(status_code: int) -> bool:
    """Whether the same request may succeed later: 429 (too many requests) and every 5xx but
    501 (not implemented never changes). Other 4xx are the caller's fault: never retried."""
    return status_code == 429 or (500 <= status_code <= 599 and status_code != 501)


class ServiceError(PestoError):
    """A call to a service failed. `status_code` is None when no HTTP answer came back;
    `service_message` is the service's own message (the Error body's), `message` adds the call."""

    def __init__(self, message: str, *, status_code: int | None = None,
                 service_message: str | None = None, hint: str | None = None,
                 correlation_id: str | None = None, retryable: bool | None = None,
                 retry_after: float | None = None, method: str | None = None,
                 url: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code  # type: ignore[assignment]  # per instance here
        self.service_message = service_message if service_message is not None else message
        self.correlation_id = correlation_id
        if retryable is None:
            retryable = status_code is not None and is_retryable(status_code)
        self.retryable = retryable  # type: ignore[assignment]
        self.retry_after = retry_after
        self.method = method
        self.url = url


class ClientError(ServiceError):
    """The service refused the request (4xx): bad input, unknown job, results not ready."""


class ServerError(ServiceError):
    """The service failed (5xx): the algorithm failed, the queue is full (503), a timeout."""


class ServiceUnreachable(ServiceError):
    """No HTTP answer: connection refused or reset, or a timeout. Retryable when the request
    surely did not run (never connected) or is idempotent."""


class UnexpectedResponse(ServiceError):
    """The answer is not what the geoprocessing API promises (not JSON, missing fields)."""


class JobFailed(ServiceError):
    """An asynchronous job ended FAILED or CANCELLED; `message` is the job's reason."""

    def __init__(self, message: str, *, job_id: str, status: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.job_id = job_id
        self.status = status


class WaitTimeout(ServiceError):
    """`wait` gave up: the job had not finished by the deadline (it may still be running)."""

    def __init__(self, message: str, *, job_id: str, **kwargs: Any) -> None:
        super().__init__(message, retryable=False, **kwargs)
        self.job_id = job_id


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    with contextlib.suppress(TypeError, ValueError):
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    return None


def error_from_response(response: httpx.Response) -> ServiceError:
    """The error an error answer (status >= 400) stands for, with the Error body's fields."""
    request = response.request
    body: Any = None
    with contextlib.suppress(ValueError):
        body = response.json()
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        text = body["message"]
        hint = body.get("hint") or None
        correlation = body.get("correlationId") or None
    elif isinstance(body, dict) and isinstance(body.get("detail") or body.get("title"), str):
        text = body.get("detail") or body["title"]  # RFC 7807 (OGC API - Processes)
        hint = body.get("hint") if isinstance(body.get("hint"), str) else None
        correlation = None
    else:
        text = response.text.strip()[:500] or response.reason_phrase or "no message"
        hint = None
        correlation = None
    correlation = correlation or response.headers.get("x-correlation-id")
    status = response.status_code
    cls = ClientError if status < 500 else ServerError
    return cls(f"{request.method} {request.url} answered {status}: {text}",
               status_code=status, service_message=text, hint=hint,
               correlation_id=correlation, retry_after=_retry_after(
                   response.headers.get("retry-after")),
               method=request.method, url=str(request.url))


@contextlib.contextmanager
def transport_errors(request: httpx.Request) -> Iterator[None]:
    """Re-raise httpx's transport exceptions as ServiceUnreachable, from the original."""
    try:
        yield
    except httpx.TransportError as exc:
        never_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout,
                                      httpx.PoolTimeout))
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, httpx.TimeoutException):
            reason = f"timed out ({type(exc).__name__})"
        raise ServiceUnreachable(
            f"{request.method} {request.url}: {reason}",
            retryable=never_sent or request.method in _IDEMPOTENT,
            method=request.method, url=str(request.url)) from exc
