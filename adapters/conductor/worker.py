"""Conductor workers of packaged services: each polls its service's task and calls the service.

A `ServiceTask` is the execute function of one conductor-python `Worker`. What it does depends
on the task input the generator wrote:

- a plain task: the inputs (manifest fan-ins loaded, `pesto_factory.adapters.conductor.batch`)
  go to the service's synchronous `POST /process`; the SDK extends the task's lease while the
  call runs (`lease_extend_enabled`: a heartbeat at 80 % of responseTimeoutSeconds), so the
  TaskDef's response timeout can be minutes and a dead worker is noticed within minutes;
- a fan-out batch (`__pesto_batch`): one service call per item, `parallel` at once, outputs
  written to the manifest store (or answered inline);
- a long task (`__pesto: {long: true}`, a step marked `long`, or `--long SERVICE`): the job is
  submitted (`POST /jobs`) and the task answered IN_PROGRESS with callbackAfterSeconds, the job
  id kept in its output; each re-poll checks the job once (`pesto_factory.adapters.conductor
  .jobs`), and a task that ended on the server without it gets its job cancelled.

Every service call carries the workflow id as `X-Correlation-ID`. Failures: a client error
the same request would hit again (4xx but 429: bad input) fails the task for good
(`NonRetryableException` -> FAILED_WITH_TERMINAL_ERROR); a retryable one (429, 5xx but 501,
no answer) fails it as FAILED, which Conductor retries up to the TaskDef's retryCount.

    pesto-conductor-worker --conductor http://conductor:8080/api \\
        --service tiling=http://tiling:8080 --service cloud-detection=http://cd:8080 \\
        [--register examples/pipelines/cloud_mask.yaml] [--threads 4] [--threads merge=1]
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
from pesto_factory.adapters.client import (
    ReplicaSet,
    ServiceClient,
    ServiceError,
    ServiceUnreachable,
    call_with_retries,
)
from pesto_factory.adapters.conductor.batch import BatchError, expand_fan_ins, run_batch
from pesto_factory.adapters.conductor.fanout import BATCH
from pesto_factory.adapters.conductor.generate import task_name
from pesto_factory.adapters.conductor.jobs import JOB_KEY, JobWatcher, check_job
from pesto_factory.adapters.conductor.manifests import default_root, open_store

__all__ = ["ServiceTask", "main", "make_workers", "register_definitions", "service_describes"]

log = logging.getLogger(__name__)
_WATCHERS: dict[str, JobWatcher] = {}  # Conductor URL -> the process's job watcher
_WATCHERS_LOCK = threading.Lock()


class RetryableServiceError(Exception):
    """A service call that may succeed when Conductor retries the task (FAILED)."""


class _Correlated(httpx.BaseTransport):
    """Sends the workflow id as X-Correlation-ID on every request of a task's calls, over the
    process's one connection pool (a client per task would build an SSL context and open a
    connection each time: tens of ms per task)."""

    _pool: httpx.HTTPTransport | None = None
    _pool_pid = 0
    _pool_lock = threading.Lock()

    def __init__(self, correlation_id: str) -> None:
        self._id = correlation_id
        with self._pool_lock:
            if _Correlated._pool is None or _Correlated._pool_pid != os.getpid():
                _Correlated._pool = httpx.HTTPTransport(
                    limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))
                _Correlated._pool_pid = os.getpid()
            self._inner = _Correlated._pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.headers["X-Correlation-ID"] = self._id
        return self._inner.handle_request(request)

    def close(self) -> None:
        """The pool outlives a task's client."""


def _busy_retried(call: Callable[[dict], dict], inputs: dict) -> dict:
    """One item's call, tried again while the service is busy (429, 503: its queue is full
    when a batch's calls outrun its workers), after its Retry-After."""
    return call_with_retries(lambda: call(inputs), attempts=10, max_delay=5,
                             when=lambda error: error.status_code in (429, 503))


def _watcher(conductor_url: str) -> JobWatcher:
    with _WATCHERS_LOCK:
        if conductor_url not in _WATCHERS:
            def status(task_id: str) -> str | None:
                answer = httpx.get(f"{conductor_url}/tasks/{task_id}", timeout=10)
                return answer.json().get("status") if answer.status_code == 200 else None

            def cancel(service: str, job_id: str) -> None:
                with ServiceClient(service) as client:
                    client.cancel(job_id)

            _WATCHERS[conductor_url] = JobWatcher(status, cancel)
        return _WATCHERS[conductor_url]


@dataclass(frozen=True)
class ServiceTask:
    """Execute function of a service's worker (picklable: workers may run in processes)."""

    service_url: str
    token: str | None = None
    manifests: str | None = None  # manifest store root URI (default: manifests.default_root)
    conductor_url: str | None = None  # for the job watcher of long tasks
    long: bool = False  # every task of this service as a job (else: steps marked long)
    callback_after_seconds: int = 30

    def __call__(self, task):  # noqa: ANN001, ANN204 - unannotated: the SDK passes the raw Task
        from conductor.client.worker.exception import NonRetryableException

        data = dict(task.input_data or {})
        # URL1,URL2: replicas with nothing in front of them; calls go to the least busy one,
        # and a replica that does not answer is left for the others (client/replicas.py). A
        # long job stays with the first replica (its job id is that replica's).
        urls = [url.strip() for url in self.service_url.split(",") if url.strip()]
        transport = _Correlated(task.workflow_instance_id or "")
        try:
            with ServiceClient(urls[0], token=self.token, transport=transport) as client, \
                    ReplicaSet(urls, token=self.token, transport=transport) as replicas:
                process = replicas.process if len(urls) > 1 else client.process
                if BATCH in data:
                    store = open_store(self.manifests or default_root())
                    key = f"{task.workflow_instance_id}/{task.reference_task_name}"
                    return run_batch(data[BATCH], partial(_busy_retried, process),
                                     store=store, key=key)
                # `__index` and other `__` keys are Conductor's or ours, not service inputs
                def inputs() -> dict:
                    return expand_fan_ins({key: value for key, value in data.items()
                                           if not key.startswith("__")})
                marked = data.get("__pesto") or {}
                if self.long or marked.get("long"):
                    delay = int(marked.get("callbackAfterSeconds") or self.callback_after_seconds)
                    return self._long(task, client, inputs, delay)
                return process(inputs())
        except (ServiceError, BatchError) as error:
            cause = error.error if isinstance(error, BatchError) else error
            message = str(error)
            if getattr(cause, "correlation_id", None):
                message += f" [correlation id {cause.correlation_id}]"
            log.warning("task %s of %s failed: %s", task.task_id, self.service_url, message)
            if not isinstance(cause, ServiceError) or cause.retryable \
                    or isinstance(cause, ServiceUnreachable):
                raise RetryableServiceError(message) from error
            raise NonRetryableException(message) from error
        except ValueError as error:  # a manifest store that cannot be opened
            raise NonRetryableException(str(error)) from error

    def _long(self, task: Any, client: ServiceClient, inputs: Callable[[], dict],
              delay: int) -> Any:
        from conductor.client.http.models.task_result import TaskResult
        from conductor.client.http.models.task_result_status import TaskResultStatus

        job = (task.output_data or {}).get(JOB_KEY)
        watcher = _watcher(self.conductor_url) if self.conductor_url else None
        if not job:
            job = {"id": client.submit(inputs()).id, "service": self.service_url}
            log.info("task %s: job %s submitted", task.task_id, job["id"])
            state, value = "running", None
        else:
            state, value = check_job(client, job["id"])
        if state == "running":
            if watcher is not None:
                watcher.watch(task.task_id, self.service_url, job["id"])
            return TaskResult(task_id=task.task_id,
                              workflow_instance_id=task.workflow_instance_id,
                              status=TaskResultStatus.IN_PROGRESS, callback_after_seconds=delay,
                              output_data={JOB_KEY: job})
        if watcher is not None:
            watcher.forget(task.task_id)
        if state == "failed":
            raise RetryableServiceError(value)
        return value


def make_workers(services: Mapping[str, str], *, token: str | None = None,
                 thread_count: int | Mapping[str, int] = 1, poll_interval_ms: float = 100,
                 domain: str | Mapping[str, str] | None = None, manifests: str | None = None,
                 conductor_url: str | None = None, long: Sequence[str] = ()) -> list[Any]:
    """conductor-python Workers: task name -> service URL; thread counts and task domains are
    one value for all or a mapping by task name; `long` lists task names run as jobs."""
    from conductor.client.worker.worker import Worker

    def pick(value: Any, name: str, default: Any) -> Any:
        return value.get(name, default) if isinstance(value, Mapping) else value

    return [Worker(task_definition_name=name,
                   execute_function=ServiceTask(url, token, manifests, conductor_url,
                                                long=name in long),
                   poll_interval=poll_interval_ms, thread_count=pick(thread_count, name, 1),
                   domain=pick(domain, name, None), lease_extend_enabled=True)
            for name, url in services.items()]


def service_describes(urls: Mapping[str, str], *, token: str | None = None
                      ) -> dict[str, dict[str, Any]]:
    """The describe documents of running services: service name -> describe."""
    result = {}
    for name, url in urls.items():
        with ServiceClient(url, token=token) as client:
            result[name] = client.describe()
    return result


def register_definitions(configuration: Any, task_defs: Sequence[Mapping[str, Any]],
                         workflow: Mapping[str, Any] | None = None) -> Any:
    """Register task definitions and a workflow (`pesto_factory.adapters.conductor.register`:
    PUT, idempotent on every 3.x; the workflow version bumped only when it changed)."""
    from pesto_factory.adapters.conductor.register import register

    return register(configuration, task_defs, [workflow] if workflow is not None else [])


def _pairs(values: Sequence[str]) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, url = value.partition("=")
        if not sep or not name or not url.startswith(("http://", "https://")):
            raise SystemExit(f"--service {value!r}: expected NAME=http(s)://HOST:PORT")
        pairs[name] = url
    return pairs


def _per_service(values: Sequence[str], option: str, kind: type) -> tuple[Any, dict[str, Any]]:
    """`VALUE` (all services) or `NAME=VALUE` (one), repeatable; also from a comma list."""
    common, by_name = None, {}
    for value in (part for entry in values for part in entry.split(",") if part):
        name, sep, raw = value.rpartition("=")
        try:
            parsed = kind(raw)
        except ValueError:
            raise SystemExit(f"{option} {value!r}: expected [NAME=]{kind.__name__}") from None
        if sep:
            by_name[name] = parsed
        else:
            common = parsed
    return common, by_name


def _parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="pesto-conductor-worker",
                                     description="Conductor workers of packaged services.")
    parser.add_argument("--conductor", default=env("CONDUCTOR_SERVER_URL"),
                        help="Conductor API, http://host:port/api (env CONDUCTOR_SERVER_URL)")
    parser.add_argument("--service", action="append", default=[], metavar="NAME=URL",
                        help="a service of the pipeline and its URL (repeatable)")
    parser.add_argument("--register", metavar="DIR|SPEC",
                        help="register this spec's (or folder's) definitions first")
    parser.add_argument("--threads", action="append",
                        default=[v for v in [env("PESTO_CONDUCTOR_THREADS")] if v],
                        metavar="[NAME=]N", help="threads per worker, for all or one service "
                        "(repeatable; env PESTO_CONDUCTOR_THREADS=a=2,b=8)")
    parser.add_argument("--domain", action="append",
                        default=[v for v in [env("PESTO_CONDUCTOR_DOMAINS")] if v],
                        metavar="[NAME=]DOMAIN", help="task domain to poll, for all or one "
                        "service (env PESTO_CONDUCTOR_DOMAINS)")
    parser.add_argument("--long", action="append", default=[], metavar="NAME",
                        help="run every task of this service as a job checked on re-polls")
    parser.add_argument("--manifests", default=None, metavar="URI",
                        help="manifest store root shared by the workers (file:///shared/dir; "
                        "env PESTO_CONDUCTOR_MANIFESTS)")
    parser.add_argument("--metrics-port", type=int, default=None,
                        help="serve Prometheus metrics on this port (the SDK's MetricsSettings)")
    parser.add_argument("--metrics-dir", default=None,
                        help="folder of the SDK's multiprocess metrics files")
    parser.add_argument("--poll-interval", type=float, default=100, help="milliseconds")
    parser.add_argument("--token", default=env("PESTO_SERVICE_TOKEN"),
                        help="bearer token of the services (env PESTO_SERVICE_TOKEN)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the workers of the given services until SIGINT/SIGTERM."""
    from conductor.client.automator.task_handler import TaskHandler
    from conductor.client.configuration.configuration import Configuration

    parser = _parser()
    args = parser.parse_args(argv)
    if not args.conductor:
        parser.error("give --conductor http://host:port/api (or CONDUCTOR_SERVER_URL)")
    urls = _pairs(args.service)
    if not urls:
        parser.error("give at least one --service NAME=URL")
    threads, threads_by = _per_service(args.threads, "--threads", int)
    domain, domain_by = _per_service(args.domain, "--domain", str)
    unknown = sorted((set(threads_by) | set(domain_by) | set(args.long)) - set(urls))
    if unknown:
        parser.error(f"{unknown[0]!r} is not a --service name")
    try:
        open_store(args.manifests or default_root())
    except ValueError as error:
        parser.error(f"--manifests: {error}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        describes = service_describes(urls, token=args.token)
    except ServiceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    configuration = Configuration(server_api_url=args.conductor)
    if args.register:
        from pesto_factory.adapters.conductor.register import register_path
        from pesto_factory.schemas.errors import PestoError

        try:
            for line in register_path(configuration, args.register, describes=describes):
                log.info("%s", line)
        except PestoError as error:  # a bad spec, a refused definition, no server
            print(f"error: {error}", file=sys.stderr)
            return 1
    names = {name: task_name(describe) for name, describe in describes.items()}
    tasks = {names[name]: urls[name] for name in describes}
    metrics = None
    if args.metrics_port or args.metrics_dir:
        from conductor.client.configuration.settings.metrics_settings import MetricsSettings

        metrics = MetricsSettings(directory=args.metrics_dir, http_port=args.metrics_port)
    workers = make_workers(
        tasks, token=args.token, poll_interval_ms=args.poll_interval,
        thread_count={names[n]: threads_by.get(n, threads or 1) for n in describes},
        domain={names[n]: domain_by.get(n, domain) for n in describes},
        manifests=args.manifests, conductor_url=args.conductor,
        long=[names[n] for n in args.long])
    handler = TaskHandler(workers=workers, configuration=configuration, metrics_settings=metrics,
                          scan_for_annotated_workers=False)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    handler.start_processes()
    log.info("workers of %s polling %s", ", ".join(tasks), args.conductor)
    stop.wait()
    handler.stop_processes()
    return 0


if __name__ == "__main__":
    sys.exit(main())
