"""A fixed set of worker processes fed by a bounded queue.

The event loop never runs algorithm code: it hands a `WorkItem` to an idle worker through a
pipe and reads the worker's answers as they arrive (`add_reader`, no thread, no task per job).
A worker that dies (exit, segfault) or overruns the job timeout is killed and replaced; its job
fails with a message saying which. When every worker is busy and `queue_size` jobs already
wait, `submit` refuses with `ServiceBusy` (HTTP 503 + Retry-After).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import multiprocessing
import os
import pickle
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pesto_factory.runtime.errors import (
    AlgorithmFailed,
    JobCancelled,
    JobTimedOut,
    PestoError,
    ServiceBusy,
    ServiceUnavailable,
)
from pesto_factory.runtime.imageio.header import ImageBudget
from pesto_factory.runtime.imageio.policy import InputPolicy
from pesto_factory.runtime.jobs.memory import describe_bytes, tree_rss
from pesto_factory.runtime.jobs.wire import FrameReader
from pesto_factory.runtime.jobs.worker import WorkItem, worker_main

__all__ = ["WorkerPool", "JobOutcome"]

logger = logging.getLogger(__name__)

_START_TIMEOUT = 300.0  # seconds a worker may take to import and run on_start
_RESTART_BACKOFF = (1.0, 60.0)  # first and longest pause between failed starts
_READ_SIZE = 1 << 20
_LOOP_SEND_LIMIT = 256 * 1024  # larger jobs are written to the worker's pipe from a thread
_MAX_RETRY_AFTER = 300  # seconds
_REAP_TIMEOUT = 2.0  # seconds a SIGKILLed worker may take to be reaped
_MEMORY_POLL = 0.2  # seconds between two samples of the busy workers' memory


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
    """One worker process, its two one-way pipes, and the job it runs now."""

    index: int
    process: Any
    jobs: Any  # Connection the service sends WorkItems on
    messages: Any  # Connection the worker answers on, read as frames by the loop
    ready: asyncio.Future  # ("ready",) or ("start_failed", why), once after start
    reader: FrameReader = field(default_factory=FrameReader)
    current: _Submission | None = None
    timer: asyncio.TimerHandle | None = None
    started: float = 0.0

    def kill(self) -> None:
        """Kill the worker and whatever it started (a tiling pool): its own process group.

        Reaped before returning (SIGKILL takes milliseconds), so that no write of a killed job
        lands after its results were removed.
        """
        if self.process.is_alive():
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
            self.process.join(timeout=_REAP_TIMEOUT)

    def death(self) -> str:
        # The worker closed its pipe: it is exiting, reaping takes milliseconds.
        self.process.join(timeout=2)
        code = self.process.exitcode
        if code is not None and code < 0:
            try:
                return f"killed by signal {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exited with code {code}"


class WorkerPool:
    def __init__(self, *, project_root: str, profiles: tuple[str, ...], policy: InputPolicy,
                 workers: int, queue_size: int, job_timeout: float,
                 image_budget: ImageBudget | None = None,
                 memory_limit: int | None = None) -> None:
        self._worker_args = (project_root, profiles, policy, image_budget or ImageBudget())
        self._memory_limit = memory_limit
        self._memory_watch: asyncio.TimerHandle | None = None
        self._size = workers
        self._queue_size = queue_size
        self._timeout = job_timeout
        self._idle: list[_Worker] = []
        self._waiting: collections.OrderedDict[str, _Submission] = collections.OrderedDict()
        self._running: dict[str, _Worker] = {}
        self._workers: dict[int, _Worker] = {}
        self._starting: set[asyncio.Task] = set()
        self._start_error: str | None = None
        self._started = False  # a worker has been ready at least once
        self._stopping = False
        self._mean_duration = 0.0  # seconds per job, a moving average (0: none finished yet)
        self._promised: collections.Counter[int] = collections.Counter()  # retries per second
        self._context = multiprocessing.get_context("spawn")

    # --- life cycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Start every worker in the background: on_start runs before the first request, and
        a failure shows in health at once."""
        for index in range(self._size):
            self._spawn_soon(index, delay=0.0)
        if self._memory_limit:
            self._memory_watch = asyncio.get_running_loop().call_later(
                _MEMORY_POLL, self._check_memory)

    async def stop(self) -> None:
        self._stopping = True
        if self._memory_watch:
            self._memory_watch.cancel()
        for task in list(self._starting):
            task.cancel()
        await asyncio.gather(*self._starting, return_exceptions=True)
        for worker in list(self._workers.values()):
            self._discard(worker, AlgorithmFailed("the service is stopping"))
        for sub in list(self._waiting.values()):
            _settle(sub.future, exc=AlgorithmFailed("the service is stopping"))
        self._waiting.clear()

    @property
    def start_error(self) -> str | None:
        return self._start_error

    @property
    def started(self) -> bool:
        return self._started

    def spooled_in_flight(self) -> frozenset[str]:
        """Spooled body files of the jobs waiting or running: retention must keep them."""
        subs = [*self._waiting.values(),
                *(w.current for w in self._running.values() if w.current is not None)]
        return frozenset(value.path for sub in subs for value in sub.item.payload.values()
                         if getattr(value, "path", None))

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
        if not self._workers and self._start_error:
            raise ServiceUnavailable(self._start_error, hint="see GET /api/v1/health")
        if len(self._waiting) + len(self._running) >= self._size + self._queue_size:
            raise ServiceBusy(
                f"all {self._size} worker(s) busy and {len(self._waiting)} job(s) waiting",
                retry_after=self._retry_after(), hint="retry after the Retry-After delay")
        sub = _Submission(item, asyncio.get_running_loop().create_future(), on_running, on_progress)
        if self._idle:
            self._dispatch(self._idle.pop(), sub)
        else:
            self._waiting[item.job_id] = sub
        return sub.future

    def cancel(self, job_id: str) -> bool:
        """Stop a waiting or running job; True if it was found."""
        sub = self._waiting.pop(job_id, None)
        if sub is not None:
            _settle(sub.future, exc=JobCancelled(f"job {job_id} was cancelled"))
            return True
        worker = self._running.get(job_id)
        if worker is None or worker.current is None:
            return False
        worker.current.cancelled = True
        self._discard(worker, JobCancelled(f"job {job_id} was cancelled"))
        self._spawn_soon(worker.index, delay=0.0)
        return True

    def _retry_after(self) -> int:
        """Seconds after which a refused client will find room, if it follows the header.

        Not the same value for everyone: refused clients would all come back in the same
        second and most be refused again. The first second after the backlog drains gets as
        many as the pool can take then (a full queue, or what the workers finish in a
        second), the next ones go to the following seconds.
        """
        now, mean, room = int(time.monotonic()), self._mean_duration, self._size + self._queue_size
        drain = math.ceil(mean * (len(self._waiting) + 1) / self._size)
        per_second = max(1, min(room, int(self._size / mean))) if mean else room
        delay = max(1, drain)
        while delay < _MAX_RETRY_AFTER and self._promised[now + delay] >= per_second:
            delay += 1
        self._promised[now + delay] += 1
        for second in [key for key in self._promised if key <= now]:
            del self._promised[second]
        return min(delay, _MAX_RETRY_AFTER)

    def _dispatch(self, worker: _Worker, sub: _Submission) -> None:
        worker.current, worker.started = sub, time.monotonic()
        self._running[sub.item.job_id] = worker
        if sub.on_running:
            sub.on_running()
        loop = asyncio.get_running_loop()
        data = pickle.dumps(sub.item, protocol=pickle.HIGHEST_PROTOCOL)
        if len(data) <= _LOOP_SEND_LIMIT:
            try:
                worker.jobs.send_bytes(data)
            except OSError:
                self._worker_died(worker)
                return
        else:  # megabytes of base64: a pipe write that long would stall every other request
            loop.run_in_executor(None, _send_quietly, worker.jobs, data)
        worker.timer = loop.call_later(self._timeout, self._timed_out, worker)

    def _release(self, worker: _Worker) -> None:
        """The worker finished its job: give it the next one, or let it idle."""
        if worker.current is not None:
            self._running.pop(worker.current.item.job_id, None)
            took = time.monotonic() - worker.started
            self._mean_duration = 0.8 * self._mean_duration + 0.2 * took \
                if self._mean_duration else took
        worker.current = None
        if worker.timer:
            worker.timer.cancel()
        if self._waiting:
            _, sub = self._waiting.popitem(last=False)
            self._dispatch(worker, sub)
        else:
            self._idle.append(worker)

    # --- messages from workers ----------------------------------------------------------
    def _on_readable(self, worker: _Worker) -> None:
        try:
            data = os.read(worker.messages.fileno(), _READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # EOF: the process is gone
            self._worker_died(worker)
            return
        try:
            messages = worker.reader.feed(data)
        except Exception as exc:  # noqa: BLE001 - an unreadable message: the stream is lost
            self._discard(worker, AlgorithmFailed(
                f"unreadable worker message: {type(exc).__name__}: {exc}"))
            self._spawn_soon(worker.index, delay=0.0)
            return
        for message in messages:
            self._on_message(worker, message)

    def _on_message(self, worker: _Worker, message: tuple) -> None:
        kind, sub = message[0], worker.current
        if kind in ("ready", "start_failed"):
            if not worker.ready.done():
                worker.ready.set_result(message)
        elif sub is None or message[1] != sub.item.job_id:
            logger.warning("worker %d sent %r for a job it no longer runs", worker.index, kind)
        elif kind == "progress":
            if sub.on_progress:
                sub.on_progress(message[2], message[3])
        elif kind == "done":
            _settle(sub.future, result=JobOutcome(message[2], message[3]))
            self._release(worker)
        elif kind == "error":
            _settle(sub.future, exc=message[2])
            self._release(worker)

    def _worker_died(self, worker: _Worker) -> None:
        sub = worker.current
        death = worker.death()
        reason = f"algorithm crashed: worker process {death}"
        if sub is not None and sub.cancelled:
            error: PestoError = JobCancelled(f"job {sub.item.job_id} was cancelled")
        else:
            error = AlgorithmFailed(reason)
        self._discard(worker, error)
        if worker.ready.done():  # it died at work: replace it
            self._spawn_soon(worker.index, delay=0.0)
        else:  # it died starting: _spawn reports it and retries with a backoff
            worker.ready.set_result(("start_failed", f"worker process {death} while starting"))

    def _timed_out(self, worker: _Worker) -> None:
        self._discard(worker, JobTimedOut(
            f"job exceeded the {self._timeout:g} s timeout (PESTO_JOB_TIMEOUT)"))
        self._spawn_soon(worker.index, delay=0.0)

    def _check_memory(self) -> None:
        """Kill a busy worker whose process tree holds more than PESTO_WORKER_MEMORY."""
        limit = self._memory_limit or 0
        for worker in list(self._running.values()):
            used = tree_rss(worker.process.pid)
            if used > limit:
                logger.warning("worker %d over its memory limit: %d > %d bytes",
                               worker.index, used, limit)
                self._discard(worker, AlgorithmFailed(
                    f"out of memory: limit {describe_bytes(limit)} (PESTO_WORKER_MEMORY); "
                    f"the job's processes held {describe_bytes(used)}",
                    hint="the worker was replaced; ask the operator for more memory, or send "
                    "smaller inputs"))
                self._spawn_soon(worker.index, delay=0.0)
        if not self._stopping:
            self._memory_watch = asyncio.get_running_loop().call_later(
                _MEMORY_POLL, self._check_memory)

    def _discard(self, worker: _Worker, error: PestoError) -> None:
        """Kill a worker, fail its job with `error`, forget it."""
        worker.kill()
        if worker.timer:
            worker.timer.cancel()
        if worker.current is not None:
            self._running.pop(worker.current.item.job_id, None)
            _settle(worker.current.future, exc=error)
            worker.current = None
        if worker in self._idle:
            self._idle.remove(worker)
        if self._workers.get(worker.index) is worker:
            del self._workers[worker.index]
        if not worker.messages.closed:
            asyncio.get_running_loop().remove_reader(worker.messages.fileno())
            worker.messages.close()
            worker.jobs.close()

    # --- starting workers ---------------------------------------------------------------
    def _spawn_soon(self, index: int, *, delay: float) -> None:
        if self._stopping:
            return
        task = asyncio.get_running_loop().create_task(self._spawn(index, delay))
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)

    async def _spawn(self, index: int, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        worker = self._launch(index)
        try:
            message = await asyncio.wait_for(worker.ready, _START_TIMEOUT)
        except TimeoutError:
            message = ("start_failed", f"algorithm did not start within {_START_TIMEOUT:.0f} s")
        if message[0] == "ready":
            self._start_error, self._started = None, True
            self._release(worker)
            return
        self._discard(worker, AlgorithmFailed(message[1]))
        logger.error("%s", message[1])
        self._start_error = message[1]
        if not self._workers:  # nobody can run the waiting jobs: fail them now
            for sub in self._waiting.values():
                _settle(sub.future, exc=ServiceUnavailable(message[1]))
            self._waiting.clear()
        first, longest = _RESTART_BACKOFF
        self._spawn_soon(index, delay=min(longest, max(first, delay * 2)))

    def _launch(self, index: int) -> _Worker:
        jobs_out, jobs_in = self._context.Pipe(duplex=False)
        messages_out, messages_in = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=worker_main, args=(jobs_out, messages_in, *self._worker_args),
            name=f"pesto-worker-{index}", daemon=True)
        process.start()
        jobs_out.close()
        messages_in.close()
        loop = asyncio.get_running_loop()
        worker = _Worker(index, process, jobs_in, messages_out, loop.create_future())
        self._workers[index] = worker
        loop.add_reader(messages_out.fileno(), self._on_readable, worker)
        return worker


def _send_quietly(connection: Any, data: bytes) -> None:
    """Send from a thread; a failure means the worker died, which its pipe's EOF reports."""
    try:
        connection.send_bytes(data)
    except OSError:
        logger.warning("could not send a job to its worker (it died)")


def _settle(future: asyncio.Future, *, result: Any = None, exc: PestoError | None = None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
