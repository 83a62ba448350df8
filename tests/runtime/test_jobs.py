"""Execution and durability over a real service: crashes, timeouts, cancel, queue, restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import wait_until
from tests.runtime.conftest import MISBEHAVING
from tests.runtime.test_api import assert_error


def status_of(client, job_id: str) -> dict:
    return client.get(f"/jobs/{job_id}/status").json()


def wait_status(client, job_id: str, *states: str, timeout: float = 60) -> dict:
    return wait_until(lambda: (s := status_of(client, job_id))["status"] in states and s,
                      timeout=timeout, what=f"job {job_id} in {states}")


@pytest.fixture
def misbehaving(service_factory, tmp_path):
    marker = tmp_path / "starts.txt"
    service = service_factory(MISBEHAVING, env={
        "PESTO_WORKERS": "1", "PESTO_QUEUE": "1", "PESTO_JOB_TIMEOUT": "3",
        "MISBEHAVING_START_MARKER": str(marker)})
    service.starts = marker
    with service.client() as client:
        service.http = client
        yield service


@pytest.mark.parametrize(("mode", "message"), [
    ("raise", "ValueError: bad pixel values"),
    ("exit", "exited with code 3"),
    ("segfault", "SIGSEGV"),
])
def test_crashes_fail_the_job_and_the_service_keeps_serving(misbehaving, mode, message) -> None:
    client = misbehaving.http
    assert_error(client.post("/process", json={"mode": mode}), 500, contains=message)
    job_id = client.post("/jobs", json={"mode": mode}).json()["jobId"]
    failed = wait_status(client, job_id, "FAILED", "SUCCEEDED")
    assert failed["status"] == "FAILED" and message in failed["message"]
    assert_error(client.get(f"/jobs/{job_id}/results"), 409, contains=message)
    assert client.post("/process", json={"mode": "ok"}).json()["mode"] == "ok"


def test_algorithm_own_error_class_keeps_its_status(misbehaving) -> None:
    body = assert_error(misbehaving.http.post("/process", json={"mode": "own_error"}), 422,
                        contains="too cloudy")
    assert body["hint"] == "pick another date"


def test_on_start_runs_once_per_worker(misbehaving) -> None:
    pids = {misbehaving.http.post("/process", json={}).json()["pid"] for _ in range(5)}
    assert len(pids) == 1
    assert misbehaving.starts.read_text().split() == [str(pids.pop())]


def test_timeout_kills_the_job_and_replaces_the_worker(misbehaving) -> None:
    client = misbehaving.http
    before = client.post("/process", json={}).json()["pid"]
    assert_error(client.post("/process", json={"seconds": 30}), 504, contains="3 s timeout")
    after = client.post("/process", json={}).json()["pid"]
    assert after != before


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_timeout_also_kills_what_the_algorithm_started(misbehaving, tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    assert_error(misbehaving.http.post("/process", json={"mode": "grandchild",
                                                         "gate": str(pid_file)}), 504)
    pid = int(pid_file.read_text())
    wait_until(lambda: not alive(pid), timeout=10, what=f"grandchild {pid} killed")


def test_progress_shows_in_status(misbehaving, tmp_path: Path) -> None:
    client = misbehaving.http
    gate = tmp_path / "gate"
    job_id = client.post("/jobs", json={"mode": "progress", "gate": str(gate)}).json()["jobId"]
    running = wait_until(lambda: (s := status_of(client, job_id))["progress"] == 42 and s,
                         timeout=30, what="progress 42")
    assert running["status"] == "RUNNING" and running["message"] == "half way"
    assert_error(client.get(f"/jobs/{job_id}/results"), 409, contains="not ready")
    gate.touch()
    done = wait_status(client, job_id, "SUCCEEDED")
    assert done["progress"] == 100


def test_full_queue_answers_503_with_retry_after(misbehaving, tmp_path: Path) -> None:
    client = misbehaving.http
    gate = tmp_path / "gate"
    running = client.post("/jobs", json={"gate": str(gate)}).json()["jobId"]
    wait_status(client, running, "RUNNING")
    waiting = client.post("/jobs", json={"gate": str(gate)})  # fills the queue of 1
    assert waiting.status_code == 201
    refused = client.post("/jobs", json={"gate": str(gate)})
    assert_error(refused, 503, contains="busy")
    assert int(refused.headers["Retry-After"]) >= 1
    assert_error(client.post("/process", json={}), 503)
    gate.touch()
    wait_status(client, waiting.json()["jobId"], "SUCCEEDED")


def test_cancel_running_and_waiting_jobs(misbehaving, tmp_path: Path) -> None:
    client = misbehaving.http
    gate = tmp_path / "gate"
    running = client.post("/jobs", json={"gate": str(gate)}).json()["jobId"]
    wait_status(client, running, "RUNNING")
    waiting = client.post("/jobs", json={"gate": str(gate)}).json()["jobId"]
    assert client.delete(f"/jobs/{waiting}").status_code == 204
    assert client.delete(f"/jobs/{running}").status_code == 204
    assert status_of(client, running)["status"] == "CANCELLED"
    assert status_of(client, waiting)["status"] == "CANCELLED"
    assert_error(client.get(f"/jobs/{running}/results"), 409, contains="CANCELLED")
    # the killed worker is replaced and the next job runs at once (no gate)
    assert client.post("/process", json={}).json()["mode"] == "ok"


def test_worker_that_cannot_start_makes_health_503(service_factory) -> None:
    service = service_factory(MISBEHAVING, env={"MISBEHAVING_FAIL_START": "1"}, healthy=False)
    with service.client() as client:
        assert_error(client.post("/process", json={}), 503, contains="model file missing")
        health = client.get("/health")
        assert health.status_code == 503 and "model file missing" in health.text


def test_restart_keeps_every_accepted_job(service_factory, tmp_path: Path) -> None:
    state = tmp_path / "durable"
    gate = tmp_path / "gate"
    env = {"PESTO_WORKERS": "1", "PESTO_QUEUE": "4"}
    first = service_factory(MISBEHAVING, state_dir=state, env=env)
    with first.client() as client:
        succeeded = client.post("/jobs", json={}).json()["jobId"]
        wait_status(client, succeeded, "SUCCEEDED")
        failed = client.post("/jobs", json={"mode": "raise"}).json()["jobId"]
        wait_status(client, failed, "FAILED")
        cancelled = client.post("/jobs", json={"gate": str(gate)}).json()["jobId"]
        wait_status(client, cancelled, "RUNNING")
        client.delete(f"/jobs/{cancelled}")
        running = client.post("/jobs", json={"gate": str(gate)}).json()["jobId"]
        wait_status(client, running, "RUNNING")
        accepted = client.post("/jobs", json={"gate": str(gate)}).json()["jobId"]
        assert status_of(client, accepted)["status"] == "ACCEPTED"
    first.stop(kill=True)  # no chance to clean up: as after a power cut

    second = service_factory(MISBEHAVING, state_dir=state, env=env)
    with second.client() as client:
        listed = {job["jobId"]: job for job in client.get("/jobs").json()}
        assert listed[succeeded]["status"] == "SUCCEEDED"
        assert client.get(f"/jobs/{succeeded}/results/mode").json() == "ok"
        assert listed[failed]["status"] == "FAILED"
        assert listed[cancelled]["status"] == "CANCELLED"
        for interrupted in (running, accepted):
            assert listed[interrupted]["status"] == "FAILED"
            assert listed[interrupted]["message"].startswith("interrupted")
        failed_only = client.get("/jobs", params={"status": "FAILED"}).json()
        assert {job["jobId"] for job in failed_only} == {failed, running, accepted}
        page = client.get("/jobs", params={"limit": 2, "offset": 1}).json()
        assert [job["jobId"] for job in page] == [failed, cancelled]  # submission order
        assert_error(client.get("/jobs", params={"status": "LOST"}), 400)


def test_retention_removes_old_finished_jobs(service_factory, tmp_path: Path) -> None:
    state = tmp_path / "retained"
    first = service_factory(MISBEHAVING, state_dir=state)
    with first.client() as client:
        job_id = client.post("/jobs", json={}).json()["jobId"]
        wait_status(client, job_id, "SUCCEEDED")
    first.stop()
    second = service_factory(MISBEHAVING, state_dir=state, env={"PESTO_RESULT_RETENTION": "0.001"})
    with second.client() as client:
        wait_until(lambda: client.get("/jobs").json() == [], timeout=30, what="retention sweep")
