"""`ServiceClient`: the one small typed REST client of a geoprocessing-api service.

Every adapter (the embedded runner, Conductor workers, Airflow hooks) reaches services only
through it. It speaks the API of the README: health, describe, process (sync), jobs (submit,
status, results, cancel) and `wait`, which polls a job with a deadline. Failures are
`ServiceError`s (see `pesto_factory.adapters.client.errors`); httpx never leaks out. Tests inject an
`httpx.MockTransport` (or any transport) with `transport=`.

`AsyncServiceClient` has the same methods as coroutines (for Airflow triggers); both drive the
same I/O-free calls of `pesto_factory.adapters.client._calls`.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pesto_factory.adapters.client._calls import Call, Calls, Pause
from pesto_factory.adapters.client.errors import ServiceError, transport_errors
from pesto_factory.adapters.client.models import JobRef, JobState, ResultLink

__all__ = ["AsyncServiceClient", "ServiceClient", "DEFAULT_TIMEOUT", "DEFAULT_PROCESS_TIMEOUT",
           "call_with_retries"]

T = TypeVar("T")

#: Seconds for ordinary calls (describe, status, ...).
DEFAULT_TIMEOUT = 30.0
#: Seconds a synchronous process call may take: the runtime's job timeout (1 h) plus slack.
DEFAULT_PROCESS_TIMEOUT = 3660.0
_USER_AGENT = "pesto-factory-client/0.1"


class _Base:
    def __init__(self, base_url: str, *, token: str | None = None,
                 timeout: float | None = DEFAULT_TIMEOUT,
                 process_timeout: float | None = DEFAULT_PROCESS_TIMEOUT) -> None:
        self._calls = Calls(base_url, token=token, timeout=timeout,
                            process_timeout=process_timeout, user_agent=_USER_AGENT)

    @property
    def base_url(self) -> str:
        """The service's API root, `http://host:port/api/v1`."""
        return self._calls.root

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"


class ServiceClient(_Base):
    """A blocking client of one service. Use it as a context manager, or `close()` it.

    `timeout` bounds ordinary calls and `process_timeout` synchronous process calls (seconds,
    None for no limit); `token` is sent as `Authorization: Bearer`. `sleep` and `clock` (the
    deadline of `wait`) are injectable, so tests can run a wait in fake time."""

    def __init__(self, base_url: str, *, token: str | None = None,
                 transport: httpx.BaseTransport | None = None,
                 timeout: float | None = DEFAULT_TIMEOUT,
                 process_timeout: float | None = DEFAULT_PROCESS_TIMEOUT,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(base_url, token=token, timeout=timeout, process_timeout=process_timeout)
        self._http = httpx.Client(transport=transport)
        self._sleep = sleep
        self._clock = clock

    def _run(self, call: Call[T]) -> T:
        try:
            step = next(call)
            while True:
                if isinstance(step, Pause):
                    self._sleep(step.seconds)
                    step = call.send(None)
                    continue
                with transport_errors(step):
                    response = self._http.send(step)
                step = call.send(response)
        except StopIteration as done:
            return done.value
        finally:
            call.close()

    def describe(self) -> dict[str, Any]:
        """The describe document: input/output schemas, resources, ..."""
        return self._run(self._calls.describe())

    def health(self) -> str:
        """The health text ("OK"); ServerError 503 while the algorithm starts or cannot."""
        return self._run(self._calls.health())

    def process(self, inputs: Mapping[str, Any], *, inline: bool = False,
                timeout: float | None | str = "default") -> dict[str, Any]:
        """Run synchronously; image outputs come back as file:// references (base64 if
        `inline`)."""
        return self._run(self._calls.process(inputs, inline=inline, timeout=timeout))

    def submit(self, inputs: Mapping[str, Any], *, inline: bool = False) -> JobRef:
        """Start an asynchronous job (POST /jobs, 201)."""
        return self._run(self._calls.submit(inputs, inline=inline))

    def status(self, job: JobRef | str) -> JobState:
        return self._run(self._calls.status(job))

    def results(self, job: JobRef | str) -> dict[str, ResultLink]:
        """The results of a SUCCEEDED job by id (ClientError 409 before that)."""
        return self._run(self._calls.results(job))

    def result(self, job: JobRef | str, result_id: str) -> Any:
        """One result: its JSON value, or the file's bytes for an image."""
        return self._run(self._calls.result(job, result_id))

    def download(self, job: JobRef | str, result_id: str, path: str | Path) -> Path:
        """Save one result's bytes at `path` (written under a temporary name, then renamed)."""
        value = self.result(job, result_id)
        data = value if isinstance(value, bytes) else _json_bytes(value)
        path = Path(path)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        try:
            partial.write_bytes(data)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        return path

    def wait(self, job: JobRef | str, *, poll_interval: float = 1.0,
             timeout: float | None = None,
             on_status: Callable[[JobState], None] | None = None) -> JobState:
        """Poll until the job is SUCCEEDED (returned); JobFailed if it FAILED or was
        CANCELLED, WaitTimeout after `timeout` seconds."""
        return self._run(self._calls.wait(job, poll_interval=poll_interval, timeout=timeout,
                                          on_status=on_status, clock=self._clock))

    def cancel(self, job: JobRef | str) -> None:
        """Cancel a running job, or forget a finished one (its results are removed)."""
        self._run(self._calls.cancel(job))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncServiceClient(_Base):
    """The same client for asyncio code (Airflow triggers): every method is a coroutine."""

    def __init__(self, base_url: str, *, token: str | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 timeout: float | None = DEFAULT_TIMEOUT,
                 process_timeout: float | None = DEFAULT_PROCESS_TIMEOUT) -> None:
        super().__init__(base_url, token=token, timeout=timeout, process_timeout=process_timeout)
        self._http = httpx.AsyncClient(transport=transport)

    async def _run(self, call: Call[T]) -> T:
        try:
            step = next(call)
            while True:
                if isinstance(step, Pause):
                    await asyncio.sleep(step.seconds)
                    step = call.send(None)
                    continue
                with transport_errors(step):
                    response = await self._http.send(step)
                step = call.send(response)
        except StopIteration as done:
            return done.value
        finally:
            call.close()

    async def describe(self) -> dict[str, Any]:
        return await self._run(self._calls.describe())

    async def health(self) -> str:
        return await self._run(self._calls.health())

    async def process(self, inputs: Mapping[str, Any], *, inline: bool = False,
                      timeout: float | None | str = "default") -> dict[str, Any]:
        return await self._run(self._calls.process(inputs, inline=inline, timeout=timeout))

    async def submit(self, inputs: Mapping[str, Any], *, inline: bool = False) -> JobRef:
        return await self._run(self._calls.submit(inputs, inline=inline))

    async def status(self, job: JobRef | str) -> JobState:
        return await self._run(self._calls.status(job))

    async def results(self, job: JobRef | str) -> dict[str, ResultLink]:
        return await self._run(self._calls.results(job))

    async def result(self, job: JobRef | str, result_id: str) -> Any:
        return await self._run(self._calls.result(job, result_id))

    async def wait(self, job: JobRef | str, *, poll_interval: float = 1.0,
                   timeout: float | None = None,
                   on_status: Callable[[JobState], None] | None = None) -> JobState:
        return await self._run(self._calls.wait(job, poll_interval=poll_interval,
                                                timeout=timeout, on_status=on_status))

    async def cancel(self, job: JobRef | str) -> None:
        await self._run(self._calls.cancel(job))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncServiceClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def call_with_retries(call: Callable[[], T], *, attempts: int = 5,
                      when: Callable[[ServiceError], bool] = lambda error: error.retryable,
                      max_delay: float = 60.0,
                      sleep: Callable[[float], None] = time.sleep) -> T:
    """`call()`, tried again (up to `attempts` in all) while it raises a ServiceError `when`
    accepts; waits the service's Retry-After when it gave one, else 0.5 s doubling."""
    for attempt in range(attempts):
        try:
            return call()
        except ServiceError as error:
            if attempt == attempts - 1 or not when(error):
                raise
            delay = error.retry_after if error.retry_after is not None else 0.5 * 2 ** attempt
            sleep(min(delay, max_delay))
    raise AssertionError("unreachable")


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()
