"""Long steps as service jobs (POST /jobs) checked on each re-poll, with no worker thread held:
a worker killed while the job runs loses nothing (the next worker finds the job by the id kept
in the task's output), and a workflow terminated on the server cancels the job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from pesto_factory.adapters.client import ServiceClient
from pesto_factory.adapters.client.models import JobStatus
from pesto_factory.adapters.conductor import task_name

from tests.adapters.conductor.conftest import running_workers
from tests.conftest import wait_until

pytestmark = pytest.mark.slow

WORKER = str(Path(sys.executable).parent / "pesto-conductor-worker")
SPEC = """
name: long
inputs:
  hold: {type: string}
services:
  square: {project: "{services}/square"}
steps:
  - id: sq
    service: square
    conductor: {long: true, callback_after_seconds: 1}
    inputs:
      item: {index: 0, value: 7, last: true}
      hold: ${inputs.hold}
outputs:
  square: ${sq.square}
"""


@pytest.fixture
def long_spec(write_spec):
    return write_spec(SPEC)


def _job(conductor, workflow_id: str) -> dict | None:
    tasks = conductor.workflow(workflow_id)["tasks"]
    return tasks and tasks[-1]["outputData"].get("__pesto_job")


def _worker(conductor, spec: Path, url: str, log: Path) -> subprocess.Popen:
    with log.open("ab") as handle:
        return subprocess.Popen([WORKER, "--conductor", conductor.url, "--register", str(spec),
                                 "--service", f"square={url}"], stdout=handle,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _kill(process: subprocess.Popen) -> None:
    """The worker and the SDK's worker processes it started (its own process group)."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def test_a_killed_worker_loses_nothing(conductor, squares_services, describes, long_spec,
                                       tmp_path):
    hold = tmp_path / "hold"
    hold.touch()
    first = _worker(conductor, long_spec, squares_services["square"], tmp_path / "w1.log")
    try:
        wait_until(lambda: "long" in {n for n, _ in conductor.state.workflow_defs},
                   timeout=60, what="the workflow registered")
        workflow_id = conductor.start("long", {"hold": str(hold)})
        job = wait_until(lambda: _job(conductor, workflow_id), timeout=60,
                         what="the job submitted")
    finally:
        _kill(first)
    hold.unlink()
    urls = {task_name(describes["square"]): squares_services["square"]}
    with running_workers(conductor, urls):
        workflow = conductor.wait(workflow_id, timeout=60)
    assert workflow["status"] == "COMPLETED", workflow["reasonForIncompletion"]
    assert workflow["output"]["square"] == 49
    (task,) = workflow["tasks"]  # one attempt, polled again and again, one job
    assert task["retryCount"] == 0 and task["pollCount"] >= 2
    with ServiceClient(squares_services["square"]) as client:
        assert client.status(job["id"]).status is JobStatus.SUCCEEDED


def test_a_terminated_workflow_cancels_its_job(conductor, squares_services, describes,
                                               long_spec, tmp_path):
    hold = tmp_path / "hold"
    hold.touch()
    worker = _worker(conductor, long_spec, squares_services["square"], tmp_path / "w.log")
    try:
        wait_until(lambda: "long" in {n for n, _ in conductor.state.workflow_defs},
                   timeout=60, what="the workflow registered")
        workflow_id = conductor.start("long", {"hold": str(hold)})
        job = wait_until(lambda: _job(conductor, workflow_id), timeout=60,
                         what="the job submitted")
        wait_until(lambda: conductor.workflow(workflow_id)["tasks"][-1]["pollCount"] >= 2,
                   timeout=60, what="the job checked on a re-poll")
        with conductor.state.lock:
            conductor.state.terminate(workflow_id, "stopped by the test")
        with ServiceClient(squares_services["square"]) as client:
            state = wait_until(lambda: (s := client.status(job["id"])).status.finished and s,
                               timeout=60, what="the job cancelled")
        assert state.status is JobStatus.CANCELLED
    finally:
        _kill(worker)


def test_a_synchronous_call_longer_than_the_response_timeout_keeps_its_lease(
        conductor, squares_services, describes, write_spec, tmp_path):
    from pesto_factory.adapters.conductor import (
        TaskSettings,
        generate_task_defs,
        generate_workflow,
    )
    from pesto_factory.adapters.conductor.worker import register_definitions
    from pesto_factory.adapters.pipeline import load_pipeline

    spec = write_spec(SPEC.replace("    conductor: {long: true, callback_after_seconds: 1}\n", ""))
    square = {"square": describes["square"]}
    settings = TaskSettings(response_timeout_seconds=2, timeout_seconds=120, retry_count=0)
    register_definitions(conductor.configuration(), generate_task_defs(square, settings=settings),
                         generate_workflow(load_pipeline(spec, describes=square), square,
                                           settings=settings))
    hold = tmp_path / "hold"
    hold.touch()
    with running_workers(conductor, {task_name(describes["square"]): squares_services["square"]}):
        workflow_id = conductor.start("long", {"hold": str(hold)})
        # the SDK's heartbeats (extendLease) move updateTime on: 4 s in, the 2 s timeout passed
        wait_until(lambda: (t := conductor.workflow(workflow_id)["tasks"][0])["status"] ==
                   "IN_PROGRESS" and t["updateTime"] - t["startTime"] >= 4000, timeout=60,
                   what="two lease extensions")
        hold.unlink()
        workflow = conductor.wait(workflow_id, timeout=60)
    assert workflow["status"] == "COMPLETED", workflow["reasonForIncompletion"]
    assert [t["retryCount"] for t in workflow["tasks"]] == [0]  # one attempt, never timed out
