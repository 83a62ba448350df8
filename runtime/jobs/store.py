"""The durable job store: one SQLite file under PESTO_STATE_DIR.

Only asynchronous jobs are stored (a synchronous caller sees a failure directly). Writes happen
at state changes, so a killed service loses no accepted job: on the next start every job still
ACCEPTED or RUNNING is marked FAILED as interrupted.

When outputs go to an object store, a job's objects live under `<object root>/<job id>/`:
removing a job's results (DELETE, retention, failure) deletes that prefix too, in a background
thread so that no store round trip ever runs on the event loop.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pesto_factory.runtime.jobs.models import INTERRUPTED, Job, JobStatus, ResultFile

__all__ = ["JobStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    progress INTEGER NOT NULL DEFAULT 0,
    message TEXT,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    outputs TEXT,
    files TEXT,
    output_dir TEXT,
    retryable INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
"""
_COLUMNS_ADDED = {"retryable": "ALTER TABLE jobs ADD COLUMN retryable INTEGER NOT NULL DEFAULT 0"}


class JobStore:
    """Jobs by id, safe to call from the event loop and from threads (one lock, short writes)."""

    def __init__(self, path: Path, *, object_root: str | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._object_root = object_root.rstrip("/") if object_root else None
        self._cleaner = ThreadPoolExecutor(1, thread_name_prefix="object-cleanup") \
            if object_root else None
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
        for name, statement in _COLUMNS_ADDED.items():  # a store from an older version
            if name not in columns:
                self._db.execute(statement)
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._cleaner is not None:
            self._cleaner.shutdown(wait=True)
        with self._lock:
            self._db.close()

    def _execute(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, args)

    def add(self, job_id: str, output_dir: Path) -> Job:
        now = time.time()
        self._execute(
            "INSERT INTO jobs (id, status, created, output_dir) VALUES (?, ?, ?, ?)",
            (job_id, JobStatus.ACCEPTED.value, now, str(output_dir)),
        )
        return Job(id=job_id, status=JobStatus.ACCEPTED, created=now)

    def get(self, job_id: str) -> Job | None:
        row = self._execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _row_to_job(row) if row else None

    def list(self, status: JobStatus | None = None, *, limit: int = -1,
             offset: int = 0) -> list[Job]:
        """Jobs in submission order, optionally of one status, one page at a time."""
        where, args = ("WHERE status = ?", (status.value,)) if status else ("", ())
        rows = self._execute(
            f"SELECT * FROM jobs {where} ORDER BY created LIMIT ? OFFSET ?",  # noqa: S608
            (*args, limit, offset)).fetchall()
        return [_row_to_job(row) for row in rows]

    def count_by_status(self) -> dict[JobStatus, int]:
        rows = self._execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        counts = {status: 0 for status in JobStatus}
        counts.update({JobStatus(status): count for status, count in rows})
        return counts

    def mark_running(self, job_id: str) -> None:
        self._execute(
            "UPDATE jobs SET status = ?, started = ? WHERE id = ? AND status = ?",
            (JobStatus.RUNNING.value, time.time(), job_id, JobStatus.ACCEPTED.value),
        )

    def set_progress(self, job_id: str, progress: int, message: str | None) -> None:
        self._execute(
            "UPDATE jobs SET progress = ?, message = COALESCE(?, message) WHERE id = ? AND status = ?",
            (progress, message, job_id, JobStatus.RUNNING.value),
        )

    def finish(
        self, job_id: str, status: JobStatus, *, message: str | None = None,
        outputs: Any = None, files: tuple[ResultFile, ...] = (), retryable: bool = False,
    ) -> None:
        """Record the end of a job; a job already finished (e.g. cancelled) keeps its state."""
        progress = 100 if status is JobStatus.SUCCEEDED else None
        self._execute(
            "UPDATE jobs SET status = ?, message = ?, finished = ?, outputs = ?, files = ?,"
            " progress = COALESCE(?, progress), retryable = ? WHERE id = ? AND status IN (?, ?)",
            (status.value, message, time.time(), json.dumps(outputs) if outputs is not None else None,
             json.dumps([asdict(f) for f in files]), progress, int(retryable), job_id,
             JobStatus.ACCEPTED.value, JobStatus.RUNNING.value),
        )

    def output_dir(self, job_id: str) -> Path | None:
        row = self._execute("SELECT output_dir FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return Path(row[0]) if row and row[0] else None

    def remove_results(self, job_id: str) -> None:
        """Delete a job's files and outputs; the job itself stays listed."""
        directory = self.output_dir(job_id)
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
        self.remove_objects(job_id)
        self._execute("UPDATE jobs SET outputs = NULL, files = NULL WHERE id = ?", (job_id,))

    def remove_objects(self, job_id: str) -> Future | None:
        """Delete the job's objects in the store (in the background); None without a store."""
        if self._cleaner is None:
            return None
        from pesto_factory.runtime.imageio.objectstore import ObjectLocation, delete_prefix

        prefix = ObjectLocation.parse(f"{self._object_root}/").child(job_id)
        return self._cleaner.submit(delete_prefix, prefix)

    def delete(self, job_id: str) -> None:
        self.remove_results(job_id)
        self._execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def fail_interrupted(self) -> int:
        """At start-up: jobs left ACCEPTED or RUNNING by a stopped service become FAILED."""
        cursor = self._execute(
            "UPDATE jobs SET status = ?, message = ?, finished = ? WHERE status IN (?, ?)",
            (JobStatus.FAILED.value, INTERRUPTED, time.time(),
             JobStatus.ACCEPTED.value, JobStatus.RUNNING.value),
        )
        return cursor.rowcount

    def purge_finished_before(self, cutoff: float) -> int:
        """Remove finished jobs (and their files) that ended before `cutoff` (retention)."""
        rows = self._execute(
            "SELECT id FROM jobs WHERE finished IS NOT NULL AND finished < ? AND status IN (?, ?, ?)",
            (cutoff, JobStatus.SUCCEEDED.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value),
        ).fetchall()
        for (job_id,) in rows:
            self.delete(job_id)
        return len(rows)


def _row_to_job(row: tuple) -> Job:
    (job_id, status, progress, message, created, started, finished, outputs, files, _dir,
     retryable) = row
    return Job(
        id=job_id,
        status=JobStatus(status),
        progress=progress,
        message=message,
        created=created,
        started=started,
        finished=finished,
        outputs=json.loads(outputs) if outputs else None,
        files=tuple(ResultFile(**f) for f in json.loads(files)) if files else (),
        retryable=bool(retryable),
    )
