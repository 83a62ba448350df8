"""Conductor workers of packaged services: each polls its service's task and calls the service.

A `ServiceTask` is the execute function of one conductor-python `Worker`: it sends the task's
input to the service's synchronous `POST /process` through `pesto_factory.adapters.client.ServiceClient` and
returns the outputs (images by reference). Synchronous, not submit + `TaskInProgress` polling:
the services of a chain are short calls (a tile, a merge), one call holds one worker thread
(scale with `thread_count` and the service's own workers), and the TaskDef's
responseTimeoutSeconds (3700 s) covers the service's longest job (1 h), so a worker that dies
mid-call has its task re-queued by Conductor.

Failures: a client error the same request would hit again (4xx but 429: bad input) fails the
task for good (`NonRetryableException` -> FAILED_WITH_TERMINAL_ERROR); a retryable one (429,
5xx but 501, no answer) fails it as FAILED, which Conductor retries up to the TaskDef's
retryCount.

    python -m pesto_factory.adapters.conductor.worker --conductor http://conductor:8080/api \\
        --service tiling=http://tiling:8080 --service cloud-detection=http://cd:8080 \\
        [--register examples/pipelines/cloud_mask.yaml] [--threads 4]
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pesto_factory.adapters.client import ServiceClient, ServiceError, ServiceUnreachable
from pesto_factory.adapters.conductor.generate import (
    generate_task_defs,
    generate_workflow,
    task_name,
)

__all__ = ["ServiceTask", "main", "make_workers", "register_definitions", "service_describes"]

log = logging.getLogger(__name__)


class RetryableServiceError(Exception):
    """A service call that may succeed when Conductor retries the task (FAILED)."""


@dataclass(frozen=True)
class ServiceTask:
    """Execute function of a service's worker (picklable: workers may run in processes)."""

    service_url: str
    token: str | None = None

    def __call__(self, task):  # noqa: ANN001, ANN204 - unannotated: the SDK passes the raw Task
        from conductor.client.worker.exception import NonRetryableException

        # `__index` and other `__` keys are Conductor's fork bookkeeping, not service inputs
        inputs = {key: value for key, value in (task.input_data or {}).items()
                  if not key.startswith("__")}
        try:
            with ServiceClient(self.service_url, token=self.token) as client:
                return client.process(inputs)
        except ServiceError as error:
            log.warning("task %s of %s failed: %s", task.task_id, self.service_url, error)
            if error.retryable or isinstance(error, ServiceUnreachable):
                raise RetryableServiceError(str(error)) from error
            raise NonRetryableException(str(error)) from error


def make_workers(services: Mapping[str, str], *, token: str | None = None,
                 thread_count: int = 1, poll_interval_ms: float = 100) -> list[Any]:
    """conductor-python Workers: task name -> service URL."""
    from conductor.client.worker.worker import Worker

    return [Worker(task_definition_name=name, execute_function=ServiceTask(url, token),
                   poll_interval=poll_interval_ms, thread_count=thread_count)
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
                         workflow: Mapping[str, Any] | None = None) -> None:
    """Register (create or replace) task definitions and a workflow through the SDK."""
    from conductor.client.http.api_client import ApiClient
    from conductor.client.orkes_clients import OrkesClients

    api = ApiClient()
    metadata = OrkesClients(configuration).get_metadata_client()
    for task_def in task_defs:
        metadata.register_task_def(api._ApiClient__deserialize(dict(task_def), "TaskDef"))
    if workflow is not None:
        metadata.register_workflow_def(api._ApiClient__deserialize(dict(workflow), "WorkflowDef"),
                                       overwrite=True)


def _pairs(values: Sequence[str]) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, url = value.partition("=")
        if not sep or not name or not url.startswith(("http://", "https://")):
            raise SystemExit(f"--service {value!r}: expected NAME=http(s)://HOST:PORT")
        pairs[name] = url
    return pairs


def main(argv: Sequence[str] | None = None) -> int:
    """Run the workers of the given services until SIGINT/SIGTERM."""
    from conductor.client.automator.task_handler import TaskHandler
    from conductor.client.configuration.configuration import Configuration

    parser = argparse.ArgumentParser(prog="python -m pesto_factory.adapters.conductor.worker",
                                     description="Conductor workers of packaged services.")
    parser.add_argument("--conductor", required=True, help="Conductor API, http://host:port/api")
    parser.add_argument("--service", action="append", default=[], metavar="NAME=URL",
                        help="a service of the pipeline and its URL (repeatable)")
    parser.add_argument("--register", metavar="SPEC",
                        help="register the task definitions and the workflow of this spec")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker")
    parser.add_argument("--token", help="bearer token of the services")
    args = parser.parse_args(argv)
    urls = _pairs(args.service)
    if not urls:
        parser.error("give at least one --service NAME=URL")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        describes = service_describes(urls, token=args.token)
    except ServiceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    configuration = Configuration(server_api_url=args.conductor)
    if args.register:
        from pesto_factory.adapters.pipeline import load_pipeline

        pipeline = load_pipeline(args.register, describes=describes)
        register_definitions(configuration, generate_task_defs(describes),
                             generate_workflow(pipeline, describes))
    tasks = {task_name(describe): urls[name] for name, describe in describes.items()}
    handler = TaskHandler(workers=make_workers(tasks, token=args.token,
                                               thread_count=args.threads),
                          configuration=configuration, scan_for_annotated_workers=False)
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
