"""The client's calls written once, free of I/O, for the sync and the async client to drive.

Each call is a generator: it yields an `httpx.Request` to send (and receives the response) or
a `Pause` to sleep, and returns the call's value. `ServiceClient` drives it with a blocking
`httpx.Client` and `time.sleep`, `AsyncServiceClient` with `httpx.AsyncClient` and
`asyncio.sleep`, so URLs, headers, error mapping, parsing and the polling loop of `wait` exist
in one copy (httpx's own sync/async duplication is what this avoids).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pesto_factory.adapters.client.errors import (
    JobFailed,
    UnexpectedResponse,
    WaitTimeout,
    error_from_response,
)
from pesto_factory.adapters.client.models import JobRef, JobState, JobStatus, ResultLink

__all__ = ["Calls", "Call", "Pause", "api_root"]

T = TypeVar("T")


@dataclass(frozen=True)
class Pause:
    """Sleep this many seconds before the call goes on (between polls)."""

    seconds: float


Call = Generator[httpx.Request | Pause, httpx.Response | None, T]


def api_root(base_url: str) -> str:
    """`http://host:port`, `.../api/v1` or `.../api/v1/` -> `http://host:port/api/v1`."""
    url = base_url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"service URL {base_url!r}: expected http:// or https://")
    return url if url.endswith("/api/v1") else f"{url}/api/v1"


def _job_id(job: JobRef | str) -> str:
    return job.id if isinstance(job, JobRef) else job


class Calls:
    """Requests of one service's API, and how to read their answers."""

    def __init__(self, base_url: str, *, token: str | None, timeout: float | None,
                 process_timeout: float | None, user_agent: str) -> None:
        self.root = api_root(base_url)
        self.timeout = timeout
        self.process_timeout = process_timeout
        self.headers = {"User-Agent": user_agent, "Accept": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, *, json: Any = None,
                params: Mapping[str, str] | None = None, timeout: float | None | str = "default",
                headers: Mapping[str, str] | None = None) -> httpx.Request:
        limit = self.timeout if timeout == "default" else timeout
        url = path if path.startswith(("http://", "https://")) else f"{self.root}/{path}"
        return httpx.Request(method, url, params=params, json=json,
                             headers={**self.headers, **(headers or {})},
                             extensions={"timeout": httpx.Timeout(limit).as_dict()})

    # --- reading answers ------------------------------------------------------------------
    @staticmethod
    def ok(response: httpx.Response | None) -> httpx.Response:
        assert response is not None
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def json(self, response: httpx.Response | None, kind: type = object) -> Any:
        response = self.ok(response)
        try:
            body = response.json()
        except ValueError:
            raise UnexpectedResponse(f"{response.request.url}: the answer is not JSON",
                                     url=str(response.request.url)) from None
        if kind is not object and not isinstance(body, kind):
            raise UnexpectedResponse(
                f"{response.request.url}: expected a JSON {kind.__name__}, got "
                f"{type(body).__name__}", url=str(response.request.url))
        return body

    # --- the calls ------------------------------------------------------------------------
    def describe(self) -> Call[dict[str, Any]]:
        return self.json((yield self.request("GET", "describe")), dict)

    def health(self) -> Call[str]:
        response = self.ok((yield self.request("GET", "health", headers={"Accept": "*/*"})))
        return response.text

    def process(self, inputs: Mapping[str, Any], *, inline: bool,
                timeout: float | None | str) -> Call[dict[str, Any]]:
        limit = self.process_timeout if timeout == "default" else timeout
        params = {"outputs": "inline"} if inline else None
        request = self.request("POST", "process", json=dict(inputs), params=params,
                               timeout=limit)
        return self.json((yield request), dict)

    def submit(self, inputs: Mapping[str, Any], *, inline: bool) -> Call[JobRef]:
        params = {"outputs": "inline"} if inline else None
        response = yield self.request("POST", "jobs", json=dict(inputs), params=params)
        state = JobState.from_body(self.json(response), url=str(response.request.url))
        location = self.ok(response).headers.get("location")
        return JobRef(state.job_id, location or state.links.get("self")
                      or f"{self.root}/jobs/{state.job_id}/status")

    def status(self, job: JobRef | str) -> Call[JobState]:
        response = yield self.request("GET", f"jobs/{_job_id(job)}/status")
        return JobState.from_body(self.json(response), url=str(response.request.url))

    def results(self, job: JobRef | str) -> Call[dict[str, ResultLink]]:
        body = self.json((yield self.request("GET", f"jobs/{_job_id(job)}/results")), list)
        links: dict[str, ResultLink] = {}
        for entry in body:
            link = entry.get("_link") if isinstance(entry, dict) else None
            if not isinstance(link, dict) or not isinstance(entry.get("id"), str):
                raise UnexpectedResponse(f"{self.root}/jobs/{_job_id(job)}/results: "
                                         f"not a result entry: {str(entry)[:200]}")
            links[entry["id"]] = ResultLink(
                entry["id"], str(link.get("href", "")), str(link.get("type", "application/json")),
                value=entry.get("value"), has_value="value" in entry)
        return links

    def result(self, job: JobRef | str, result_id: str) -> Call[Any]:
        request = self.request("GET", f"jobs/{_job_id(job)}/results/{result_id}",
                               headers={"Accept": "*/*"})
        response = self.ok((yield request))
        kind = response.headers.get("content-type", "").split(";")[0].strip()
        if kind == "application/json" or kind.endswith("+json"):
            return self.json(response)
        return response.content

    def cancel(self, job: JobRef | str) -> Call[None]:
        self.ok((yield self.request("DELETE", f"jobs/{_job_id(job)}")))

    def wait(self, job: JobRef | str, *, poll_interval: float, timeout: float | None,
             on_status: Callable[[JobState], None] | None,
             clock: Callable[[], float] = time.monotonic) -> Call[JobState]:
        """Poll the status until the job finishes: SUCCEEDED is returned, FAILED/CANCELLED
        raise JobFailed, the deadline raises WaitTimeout. Sleeps between polls."""
        deadline = None if timeout is None else clock() + timeout
        while True:
            state = yield from self.status(job)
            if on_status is not None:
                on_status(state)
            if state.status is JobStatus.SUCCEEDED:
                return state
            if state.status.finished:
                reason = state.message or "no reason given"
                raise JobFailed(f"job {state.job_id} {state.status.value}: {reason}",
                                job_id=state.job_id, status=state.status.value,
                                service_message=reason, retryable=state.retryable)
            pause = poll_interval
            if deadline is not None:
                left = deadline - clock()
                if left <= 0:
                    raise WaitTimeout(f"job {state.job_id} still {state.status.value} after "
                                      f"{timeout} s", job_id=state.job_id)
                pause = min(pause, left)
            yield Pause(max(pause, 0.0))
