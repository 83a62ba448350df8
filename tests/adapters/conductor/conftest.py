"""Fixtures of the Conductor tests: the test server on 127.0.0.1 (real uvicorn in a thread),
and the SDK's workers of running services (spawned processes, the SDK's default: its thread
isolation cannot stop its pollers)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from tests.adapters.conductor.server import ConductorState, create_app
from tests.adapters.conftest import SERVICES
from tests.conftest import free_port, start_service, wait_until

TERMINAL = ("COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED")


@dataclass
class TestConductor:
    url: str  # the API root, http://127.0.0.1:PORT/api
    state: ConductorState

    def configuration(self):  # noqa: ANN201
        from conductor.client.configuration.configuration import Configuration

        return Configuration(server_api_url=self.url)

    def start(self, name: str, inputs: Mapping, **request) -> str:
        """Start a workflow through the SDK's workflow client (request: task_to_domain...)."""
        from conductor.client.http.models import StartWorkflowRequest
        from conductor.client.orkes_clients import OrkesClients

        client = OrkesClients(self.configuration()).get_workflow_client()
        return client.start_workflow(StartWorkflowRequest(name=name, input=dict(inputs),
                                                          **request))

    def workflow(self, workflow_id: str) -> dict:
        return httpx.get(f"{self.url}/workflow/{workflow_id}",
                         params={"includeTasks": "true"}, timeout=10).json()

    def wait(self, workflow_id: str, *, timeout: float = 60) -> dict:
        return wait_until(lambda: (w := self.workflow(workflow_id))["status"] in TERMINAL and w,
                          timeout=timeout, what=f"workflow {workflow_id} to end")


@contextlib.contextmanager
def serving(state: ConductorState) -> Iterator[TestConductor]:
    """The test server on a free port, in a thread, until the block ends."""
    port = free_port()
    app = create_app(state)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10, what="the test Conductor server")
    try:
        yield TestConductor(f"http://127.0.0.1:{port}/api", state)
    finally:
        app.state.stop_sweeper.set()
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def conductor() -> Iterator[TestConductor]:
    with serving(ConductorState()) as server:
        yield server


@contextlib.contextmanager
def running_workers(conductor: TestConductor, services: Mapping[str, str], *,
                    thread_count: int = 1, **options) -> Iterator[None]:
    """The SDK's TaskHandler polling `conductor` for the tasks of `services` (name -> URL);
    `options` go to make_workers (manifests, long, ...)."""
    from conductor.client.automator.task_handler import TaskHandler
    from pesto_factory.adapters.conductor.worker import make_workers

    options.setdefault("conductor_url", conductor.url)
    handler = TaskHandler(workers=make_workers(services, thread_count=thread_count,
                                               poll_interval_ms=20, **options),
                          configuration=conductor.configuration(),
                          scan_for_annotated_workers=False, monitor_processes=False)
    handler.start_processes()
    try:
        yield
    finally:
        handler.stop_processes()


@pytest.fixture(scope="module")
def squares_services(tmp_path_factory):
    """The test services split, square and sum (3 workers each): name -> URL."""
    started = {}
    try:
        for name in ("split", "square", "sum"):
            started[name] = start_service(SERVICES / name, tmp_path_factory.mktemp(name),
                                          env={"PESTO_WORKERS": "3"})
        yield {name: service.url for name, service in started.items()}
    finally:
        for service in started.values():
            service.stop()
