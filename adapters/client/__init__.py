"""The REST client every adapter uses to reach a geoprocessing-api service.

    with ServiceClient("http://127.0.0.1:8080", token=None) as client:
        outputs = client.process({"image": "file:///data/scene.tif"})
        job = client.submit({...}); state = client.wait(job, timeout=600)

Errors are `ServiceError`s (status_code, message, hint, correlation_id, retryable,
retry_after); `is_retryable(status_code)` is the retry predicate.
"""

from __future__ import annotations

from pesto_factory.adapters.client.client import (
    DEFAULT_PROCESS_TIMEOUT,
    DEFAULT_TIMEOUT,
    AsyncServiceClient,
    ServiceClient,
    call_with_retries,
)
from pesto_factory.adapters.client.errors import (
    ClientError,
    JobFailed,
    ServerError,
    ServiceError,
    ServiceUnreachable,
    UnexpectedResponse,
    WaitTimeout,
    error_from_response,
    is_retryable,
    transport_errors,
)
from pesto_factory.adapters.client.models import JobRef, JobState, JobStatus, ResultLink
from pesto_factory.adapters.client.ogc import OgcProcessClient, is_process_url, plain_outputs
from pesto_factory.adapters.client.replicas import ReplicaSet

__all__ = [
    "ReplicaSet",
    "DEFAULT_PROCESS_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "AsyncServiceClient",
    "ClientError",
    "JobFailed",
    "JobRef",
    "JobState",
    "JobStatus",
    "OgcProcessClient",
    "ResultLink",
    "ServerError",
    "ServiceClient",
    "ServiceError",
    "ServiceUnreachable",
    "UnexpectedResponse",
    "WaitTimeout",
    "call_with_retries",
    "error_from_response",
    "is_process_url",
    "is_retryable",
    "plain_outputs",
    "transport_errors",
]
