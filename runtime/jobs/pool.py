"""A fixed set of worker processes fed by a bounded queue.

The event loop never runs algorithm code: it hands a `WorkItem` to an idle worker through a
pipe and waits for its answer. A worker that dies (exit, segfault) or overruns the job timeout
is killed and replaced; the job fails with a message saying which. When every worker is busy and
`queue_size` jobs already wait, `submit` refuses with `ServiceBusy` (HTTP 503 + Retry-After).
"""

from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runtime.errors import AlgorithmFailed, JobCancelled, JobTimedOut, PestoError, ServiceBusy
from runtime.jobs.wire import FrameReader
from runtime.jobs.worker import WorkItem, worker_main

__all__ = ["WorkerPool", "JobOutcome"]

logger = logging.getLogger(__name__)

_START_TIMEOUT = 300.0  # seconds a worker may take to import and run on_start
_RESTART_BACKOFF = 5.0  # after a failed start, jobs fail at once for this long
_READ_SIZE = 1 << 20


@dataclass(frozen=True)
class JobOutcome:
    outputs: Any
    files: tuple[Any, ...]


@dataclass(eq=False)
class _Submission:
    item: WorkItem
    future: asyncio.Future
    on_running: Callable[[], None] | None = None
    on_progress: Callable[[int, str | None], None] | None = None
    cancelled: bool = False


@dataclass(eq=False)
class _Worker:
    """One worker process and its pipe, read by the event loop itself when data arrives.

    Reading on the loop (add_reader) rather than in a thread saves two thread wake-ups per
    job: the difference between a fast and a slow no-op request.
    """

    process: Any
    jobs: Any  # Connection the service sends WorkItems on
    messages: Any  # Connection the worker answers on, read as frames on the loop
    inbox: asyncio.Queue = field(default_factory=asyncio.Queue)
    reader: FrameReader = field(default_factory=FrameReader)

    def watch(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        loop.add_reader(self.messages.fileno(), self._on_readable)

    def _on_readable(self) -> None:
        try:
            data = os.read(self.messages.fileno(), _READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # EOF: the worker process is gone
            self._close()
            self.inbox.put_nowait(("died",))
            return
        try:
            for message in self.reader.feed(data):
                self.inbox.put_nowait(message)
        except Exception as exc:  # noqa: BLE001 - an unreadable message from the algorithm
            self.inbox.put_nowait(("error", None, AlgorithmFailed(
                f"unreadable worker message: {type(exc).__name__}: {exc}")))

    def _close(self) -> None:
        if not self.messages.closed:
            self._loop.remove_reader(self.messages.fileno())
            self.messages.close()
            self.jobs.close()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()

    def stop(self) -> None:
        self.kill()
        self._close()

    def describe_death(self) -> str:
        self.process.join(timeout=5)
        code = self.process.exitcode
        if code is not None and code < 0:
            try:
                return f"killed by signal {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exited with code {code}"


class WorkerPool:
    def __init__(self, *, project_root: str, profiles: tuple[str, ...],
                 readable_roots: tuple[str, ...], workers: int, queue_size: int,
                 job_timeout: float) -> None:
        self._worker_args = (project_root, profiles, readable_roots)
        self._size = workers
        self._queue_size = queue_size
        self._timeout = job_timeout
        self._queue: asyncio.Queue[_Submission] = asyncio.Queue()
        self._waiting: dict[str, _Submission] = {}
        self._running: dict[str, tuple[_Worker, _Submission]] = {}
        self._tasks: list[asyncio.Task] = []
        self._start_error: tuple[float, str] | None = None
        self._started = False  # a worker has been ready at least once
        self._mean_duration = 1.0
        self._context = multiprocessing.get_context("spawn")

    # --- life cycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Start every worker now (in the background), so on_start runs before the first
        request and a failure shows in health at once."""
        self._tasks = [asyncio.create_task(self._slot_loop(i)) for i in range(self._size)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for sub in list(self._waiting.values()):
            _settle(sub.future, exc=AlgorithmFailed("the service is stopping"))

    @property
    def start_error(self) -> str | None:
        return self._start_error[1] if self._start_error else None

    @property
    def started(self) -> bool:
        return self._started

    @property
    def busy(self) -> int:
        return len(self._running)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    # --- jobs -------------------------------------------------------------------------
    def submit(self, item: WorkItem, *, on_running: Callable[[], None] | None = None,
               on_progress: Callable[[int, str | None], None] | None = None) -> asyncio.Future:
        """Queue a job; the future gives a `JobOutcome` or raises a `PestoError`."""
        if len(self._waiting) + len(self._running) >= self._size + self._queue_size:
            raise ServiceBusy(
                f"all {self._size} worker(s) busy and {len(self._waiting)} job(s) waiting",
                retry_after=self._retry_after(), hint="retry after the Retry-After delay")
        sub = _Submission(item, asyncio.get_running_loop().create_future(), on_running, on_progress)
        self._waiting[item.job_id] = sub
        self._queue.put_nowait(sub)
        return sub.future

    def cancel(self, job_id: str) -> bool:
        """Stop a waiting or running job; True if it was found."""
        sub = self._waiting.pop(job_id, None)
        if sub is not None:
            sub.cancelled = True
            _settle(sub.future, exc=JobCancelled(f"job {job_id} was cancelled"))
            return True
        running = self._running.get(job_id)
        if running is not None:
            worker, sub = running
            sub.cancelled = True
            worker.kill()  # the slot loop sees the death, settles the job, starts a new worker
            return True
        return False

    def _retry_after(self) -> int:
        backlog = (len(self._waiting) + 1) / self._size
        return max(1, min(300, math.ceil(self._mean_duration * backlog)))

    # --- the slot loop: one per worker ------------------------------------------------
    async def _slot_loop(self, index: int) -> None:
        worker = await self._start_worker(index, initial=True)
        try:
            while True:
                sub = await self._queue.get()
                if sub.cancelled:
                    continue
                if worker is None or not worker.process.is_alive():
                    worker = await self._start_worker(index)
                self._waiting.pop(sub.item.job_id, None)
                if worker is None:
                    _settle(sub.future, exc=AlgorithmFailed(self.start_error or "no worker"))
                    continue
                if not await self._run_one(worker, sub):
                    worker.stop()
                    worker = None  # it died or was killed: start a fresh one for the next job
        finally:
            if worker is not None:
                worker.stop()

    async def _start_worker(self, index: int, *, initial: bool = False) -> _Worker | None:
        if not initial and self._start_error \
                and time.monotonic() - self._start_error[0] < _RESTART_BACKOFF:
            return None
        jobs_out, jobs_in = self._context.Pipe(duplex=False)
        messages_out, messages_in = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=worker_main, args=(jobs_out, messages_in, *self._worker_args),
            name=f"pesto-worker-{index}", daemon=True)
        process.start()
        jobs_out.close()
        messages_in.close()
        worker = _Worker(process, jobs_in, messages_out)
        worker.watch(asyncio.get_running_loop())
        try:
            message = await asyncio.wait_for(worker.inbox.get(), _START_TIMEOUT)
        except TimeoutError:
            message = ("start_failed", f"algorithm did not start within {_START_TIMEOUT:.0f} s")
        if message[0] == "ready":
            self._start_error = None
            self._started = True
            return worker
        worker.stop()
        reason = message[1] if message[0] == "start_failed" else \
            f"worker process {worker.describe_death()} while starting"
        logger.error("%s", reason)
        self._start_error = (time.monotonic(), reason)
        return None

    async def _run_one(self, worker: _Worker, sub: _Submission) -> bool:
        """Run one job on `worker`; False when the worker is gone afterwards."""
        job_id = sub.item.job_id
        self._running[job_id] = (worker, sub)
        started = time.monotonic()
        alive = True
        try:
            if sub.on_running:
                sub.on_running()
            worker.jobs.send(sub.item)
            deadline = started + self._timeout
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                message = await asyncio.wait_for(worker.inbox.get(), remaining)
                kind = message[0]
                if kind == "progress":
                    if sub.on_progress:
                        sub.on_progress(message[2], message[3])
                elif kind == "done":
                    _settle(sub.future, result=JobOutcome(message[2], message[3]))
                    break
                elif kind == "error":
                    _settle(sub.future, exc=message[2])
                    break
                elif kind == "died":
                    alive = False
                    if sub.cancelled:
                        _settle(sub.future, exc=JobCancelled(f"job {job_id} was cancelled"))
                    else:
                        _settle(sub.future, exc=AlgorithmFailed(
                            f"algorithm crashed: worker process {worker.describe_death()}"))
                    break
        except TimeoutError:
            alive = False
            worker.kill()
            _settle(sub.future, exc=JobTimedOut(
                f"job exceeded the {self._timeout:g} s timeout (PESTO_JOB_TIMEOUT)"))
        except (BrokenPipeError, OSError):
            alive = False
            _settle(sub.future, exc=AlgorithmFailed(
                f"algorithm crashed: worker process {worker.describe_death()}"))
        finally:
            self._running.pop(job_id, None)
            self._mean_duration = 0.8 * self._mean_duration + 0.2 * (time.monotonic() - started)
        return alive


def _settle(future: asyncio.Future, *, result: Any = None, exc: PestoError | None = None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
