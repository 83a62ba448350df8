"""What an OGC client asked of its asynchronous jobs: the outputs, raw or document.

`GET /jobs/{jobId}/results` answers as the execute request asked (only the outputs named,
one output raw). The job store is the geoprocessing API's and does not hold these OGC-only
choices, so they are kept here, in memory, for the most recent jobs: after a restart, or for a
job submitted through /api/v1/jobs, the results are the document of every output.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict

from pesto_factory.runtime.api.ogc.execution import ExecuteRequest

__all__ = ["JobRequests"]


class JobRequests:
    """The execute requests of the last `capacity` asynchronous jobs (without their inputs)."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._requests: OrderedDict[str, ExecuteRequest] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, job_id: str, request: ExecuteRequest) -> None:
        with self._lock:
            self._requests[job_id] = dataclasses.replace(request, payload={})
            while len(self._requests) > self.capacity:
                self._requests.popitem(last=False)

    def get(self, job_id: str) -> ExecuteRequest | None:
        with self._lock:
            return self._requests.get(job_id)
