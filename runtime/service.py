"""The processing service behind the web API, free of any web framework.

It ties the project (what to run), the worker pool (where it runs) and the job store (what is
remembered). Synchronous calls go through the same workers but are not stored: their caller
sees the outcome, or the failure, directly.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pesto_factory.runtime import payload as payload_mod
from pesto_factory.runtime.errors import Conflict, JobCancelled, NotFound, PestoError
from pesto_factory.runtime.imageio import InputPolicy
from pesto_factory.runtime.jobs.models import Job, JobStatus, ResultFile
from pesto_factory.runtime.jobs.pool import JobOutcome, WorkerPool
from pesto_factory.runtime.jobs.store import JobStore
from pesto_factory.runtime.jobs.worker import WorkItem
from pesto_factory.runtime.metrics import ServiceMetrics
from pesto_factory.runtime.project import ServiceProject, image_kind
from pesto_factory.runtime.settings import Settings

__all__ = ["JobWatcher", "ProcessingService", "SyncResult"]

logger = logging.getLogger(__name__)

#: Called on the event loop with the job as stored, when it starts running and when it ends
#: (the OGC API's callbacks listen this way).
JobWatcher = Callable[[Job], None]

_SWEEP_INTERVAL = 60.0
_SPOOL_TTL = 24 * 3600.0


class SyncResult:
    """Outputs of a synchronous call, and the files written for them."""

    def __init__(self, outcome: JobOutcome) -> None:
        self.outputs = outcome.outputs
        self.files = tuple(_result_file(f) for f in outcome.files)


class ProcessingService:
    def __init__(self, project: ServiceProject, settings: Settings) -> None:
        settings = settings.for_service(project.name)
        self.project = project
        self.settings = settings
        self.describe = project.describe()
        self.input_schema = project.input_schema
        self.outputs_dir = settings.outputs_dir
        self.spool_dir = settings.state_dir.resolve() / "spool"  # raw bodies until a worker reads them
        self.single_image_output = _single_image_output(project.output_schema)
        self.policy = InputPolicy.from_settings(settings)
        self.metrics = ServiceMetrics()
        self.store = JobStore(settings.state_dir / "jobs.sqlite", object_root=settings.output_uri)
        self.pool = WorkerPool(
            project_root=str(project.root), profiles=project.profiles, policy=self.policy,
            workers=settings.workers, queue_size=settings.queue,
            job_timeout=settings.job_timeout)
        self.metrics.watch_job_states(
            lambda: {s.value: n for s, n in self.store.count_by_status().items()},
            lambda: (self.pool.busy, self.pool.waiting))
        self._tasks: set[asyncio.Task] = set()
        self._sweeper: asyncio.Task | None = None

    async def start(self) -> None:
        interrupted = self.store.fail_interrupted()
        if interrupted:
            logger.warning("%d job(s) interrupted by the last stop are marked FAILED", interrupted)
        self.outputs_dir.mkdir(parents=True, exist_ok=True)
        await self.pool.start()
        self._sweeper = asyncio.create_task(self._sweep_forever())

    async def stop(self) -> None:
        if self._sweeper:
            self._sweeper.cancel()
        await self.pool.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.store.fail_interrupted()
        self.store.close()

    # --- requests -------------------------------------------------------------------
    def check(self, payload: dict[str, Any]) -> None:
        """Validate inputs before anything is queued (400, 403)."""
        payload_mod.check_inputs(payload, self.input_schema, self.policy)

    async def run_sync(self, payload: dict[str, Any], *, inline: bool) -> SyncResult:
        job_id = uuid.uuid4().hex
        item = WorkItem(job_id, payload, str(self.outputs_dir / "sync" / job_id), inline,
                        object_prefix=self._object_prefix(f"sync/{job_id}"))
        started = time.monotonic()
        try:
            future = self.pool.submit(item)
        except PestoError:
            payload_mod.discard_spooled(payload)
            raise
        try:
            outcome = await future
        except PestoError as exc:
            self.metrics.job_finished("sync", _outcome_label(exc), time.monotonic() - started)
            raise
        self.metrics.job_finished("sync", "succeeded", time.monotonic() - started)
        return SyncResult(outcome)

    def submit_async(self, payload: dict[str, Any], *, inline: bool,
                     watch: JobWatcher | None = None) -> Job:
        job_id = str(uuid.uuid4())
        output_dir = self.outputs_dir / job_id
        item = WorkItem(job_id, payload, str(output_dir), inline,
                        object_prefix=self._object_prefix(job_id))
        job = self.store.add(job_id, output_dir)  # first: the pool may start it at once

        def running() -> None:
            self.store.mark_running(job_id)
            self._tell(watch, job_id)

        try:
            future = self.pool.submit(
                item, on_running=running,
                on_progress=lambda p, m: self.store.set_progress(job_id, p, m))
        except PestoError:
            self.store.delete(job_id)
            payload_mod.discard_spooled(payload)
            raise
        task = asyncio.create_task(self._record(job_id, future, watch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def _object_prefix(self, job_folder: str) -> str | None:
        """Where a job's images go in the object store (PESTO_OUTPUT_ROOT=s3://...), if any."""
        root = self.settings.output_uri
        return f"{root}/{job_folder}" if root else None

    async def _record(self, job_id: str, future: asyncio.Future,
                      watch: JobWatcher | None = None) -> None:
        started = time.monotonic()
        try:
            outcome: JobOutcome = await future
        except PestoError as exc:
            status = JobStatus.CANCELLED if isinstance(exc, JobCancelled) else JobStatus.FAILED
            self.store.finish(job_id, status, message=exc.message, retryable=exc.retryable)
            # no half-written output survives a job that did not succeed
            self.store.remove_results(job_id)
            self.metrics.job_finished("async", _outcome_label(exc), time.monotonic() - started)
            self._tell(watch, job_id)
            return
        files = tuple(_result_file(f) for f in outcome.files)
        self.store.finish(job_id, JobStatus.SUCCEEDED, outputs=outcome.outputs, files=files)
        self.metrics.job_finished("async", "succeeded", time.monotonic() - started)
        self._tell(watch, job_id)

    def _tell(self, watch: JobWatcher | None, job_id: str) -> None:
        if watch is None:
            return
        job = self.store.get(job_id)
        if job is None:
            return
        try:
            watch(job)
        except Exception:  # noqa: BLE001 - a listener never breaks the job's bookkeeping
            logger.exception("job watcher failed for job %s", job_id)

    # --- jobs -----------------------------------------------------------------------
    def job(self, job_id: str) -> Job:
        job = self.store.get(job_id)
        if job is None:
            raise NotFound(f"no job {job_id!r}", hint="list jobs with GET /api/v1/jobs")
        return job

    def jobs(self, status: JobStatus | None = None, *, limit: int = -1,
             offset: int = 0) -> list[Job]:
        return self.store.list(status, limit=limit, offset=offset)

    def results(self, job_id: str) -> Job:
        """The job, if its results can be read (409 otherwise)."""
        job = self.job(job_id)
        if job.status is JobStatus.SUCCEEDED:
            return job
        if job.status.finished:
            reason = f": {job.message}" if job.message else ""
            raise Conflict(f"job {job_id} has no results: it is {job.status.value}{reason}")
        raise Conflict(f"job {job_id} is {job.status.value}: results are not ready yet",
                       hint="poll the job status until it is SUCCEEDED")

    def result(self, job_id: str, result_id: str) -> tuple[Any, ResultFile | None]:
        """One result: (value, file if the value was written to one)."""
        job = self.results(job_id)
        outputs = job.outputs if isinstance(job.outputs, dict) else {"result": job.outputs}
        if result_id not in outputs:
            raise NotFound(f"job {job_id} has no result {result_id!r}",
                           hint=f"results are: {', '.join(outputs)}")
        file = next((f for f in job.files if f.name == result_id), None)
        return outputs[result_id], file

    def delete(self, job_id: str) -> None:
        """Cancel a job that has not finished; remove its results; forget a finished one."""
        job = self.job(job_id)
        if job.status.finished:
            self.store.delete(job_id)
            return
        self.pool.cancel(job_id)
        self.store.finish(job_id, JobStatus.CANCELLED, message="cancelled by the client")
        self.store.remove_results(job_id)

    # --- retention ------------------------------------------------------------------
    def sweep(self) -> None:
        """Retention: finished jobs and sync outputs after PESTO_RESULT_RETENTION (0: kept);
        spooled bodies nobody read (a job cancelled while waiting) after a day, always."""
        now = time.time()
        _remove_older(self.spool_dir, now - _SPOOL_TTL)
        retention = self.settings.result_retention
        if retention > 0:
            self.store.purge_finished_before(now - retention)
            _remove_older(self.outputs_dir / "sync", now - retention)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.sweep)
            except Exception:  # noqa: BLE001 - retention must never stop the service
                logger.exception("retention sweep failed")
            await asyncio.sleep(_SWEEP_INTERVAL)


def _remove_older(folder: Path, cutoff: float) -> None:
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.stat().st_mtime < cutoff:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _single_image_output(output_schema: dict[str, Any]) -> str | None:
    """The name of the only output, when it is one image (it can then be sent as raw bytes)."""
    properties = output_schema.get("properties", {})
    if len(properties) == 1:
        name, schema = next(iter(properties.items()))
        if image_kind(schema) == "Image":
            return name
    return None


def _result_file(output_file: Any) -> ResultFile:
    return ResultFile(name=output_file.name, path=str(output_file.path),  # a path or s3:// URI
                      media_type=output_file.media_type)


def _outcome_label(exc: PestoError) -> str:
    if isinstance(exc, JobCancelled):
        return "cancelled"
    if exc.status_code == 504:
        return "timed_out"
    return "failed"
