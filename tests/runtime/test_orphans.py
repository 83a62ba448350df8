"""No orphans, no leftovers: workers (and what they started) die with the service however it
dies, and sync outputs have their own short retention."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import wait_until
from tests.runtime.conftest import MISBEHAVING, NDVI, write_scene


def gone(pid: int) -> bool:
    """No such process, or a zombie waiting to be reaped by whoever adopted it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def test_kill_9_of_the_service_takes_its_worker_and_grandchild(service_factory, tmp_path) -> None:
    service = service_factory(MISBEHAVING, env={"PESTO_WORKERS": "1"})
    gate = tmp_path / "grandchild.pid"
    with service.client() as http:
        worker = http.post("/process", json={"mode": "ok"}).json()["pid"]
        http.post("/jobs", json={"mode": "grandchild", "gate": str(gate)})
        grandchild = int(wait_until(lambda: gate.exists() and gate.read_text(), timeout=30,
                                    what="the grandchild's pid"))
    assert not gone(worker) and not gone(grandchild)
    service.stop(kill=True)  # SIGKILL: no lifespan, no cleanup code runs in the service
    wait_until(lambda: gone(worker), timeout=20, what=f"worker {worker} to die")
    wait_until(lambda: gone(grandchild), timeout=20, what=f"grandchild {grandchild} to die")


def test_sync_outputs_have_their_own_retention(service_factory, tmp_path) -> None:
    inputs, state = tmp_path / "inputs", tmp_path / "state"
    inputs.mkdir()
    write_scene(inputs / "scene.tif")
    env = {"PESTO_INPUT_ROOTS": str(inputs)}
    first = service_factory(NDVI, state_dir=state, env=env)
    with first.client() as http:
        response = http.post("/process", json={"image": (inputs / "scene.tif").as_uri()})
        sync_file = Path(response.json()["ndvi"].removeprefix("file://"))
        failed = http.post("/process", json={"image": (inputs / "scene.tif").as_uri(),
                                             "red_band": 9})
        assert failed.status_code == 422
    assert sync_file.is_file()
    sync_dir = sync_file.parent.parent
    assert len(list(sync_dir.iterdir())) == 1  # the failed call left nothing
    first.stop()
    second = service_factory(NDVI, state_dir=state, env={**env, "PESTO_SYNC_RETENTION": "0"})
    with second.client():
        wait_until(lambda: not sync_file.exists(), timeout=30, what="sync retention sweep")


def test_a_job_interrupted_by_kill_9_is_failed_and_leaves_no_file(service_factory,
                                                                  tmp_path) -> None:
    state, gate = tmp_path / "state", tmp_path / "gate"
    first = service_factory(MISBEHAVING, state_dir=state, env={"PESTO_WORKERS": "1"})
    with first.client() as http:
        job_id = http.post("/jobs", json={"gate": str(gate)}).json()["jobId"]
        wait_until(lambda: http.get(f"/jobs/{job_id}/status").json()["status"] == "RUNNING",
                   timeout=30, what="the job to run")
        partial = state / "outputs" / job_id / "half-written.tif"  # as a worker mid-write
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(b"II*\x00")
    first.stop(kill=True)
    second = service_factory(MISBEHAVING, state_dir=state, env={"PESTO_WORKERS": "1"})
    with second.client() as http:
        status = http.get(f"/jobs/{job_id}/status").json()
    assert status["status"] == "FAILED" and status["message"].startswith("interrupted")
    assert not partial.parent.exists()
