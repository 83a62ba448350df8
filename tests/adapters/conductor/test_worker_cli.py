"""`pesto-conductor-worker` (the console script): registers a spec's definitions through the
SDK and runs the workers of running services as a real process, until SIGTERM, with per-service
thread counts and task domains, Prometheus metrics and the manifest store from the command
line."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.adapters.conftest import SQUARES
from tests.conftest import free_port, wait_until

WORKER = str(Path(sys.executable).parent / "pesto-conductor-worker")

pytestmark = pytest.mark.slow


def test_the_worker_command_registers_and_runs_the_chain(conductor, squares_services, tmp_path):
    metrics = free_port()
    args = [WORKER, "--conductor", conductor.url, "--register", str(SQUARES), "--threads", "3",
            "--threads", "sum=1", "--domain", "square=blue", "--metrics-port", str(metrics),
            "--metrics-dir", str(tmp_path / "metrics"),
            "--manifests", (tmp_path / "manifests").as_uri()]
    for name, url in squares_services.items():
        args += ["--service", f"{name}={url}"]
    log = tmp_path / "worker.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: "squares" in {n for n, _ in conductor.state.workflow_defs},
                   timeout=30, what="the workflow registered by the worker command")
        assert sorted(conductor.state.task_defs) == [
            "pesto_tests_split", "pesto_tests_square", "pesto_tests_sum"]
        workflow_id = conductor.start("squares", {"count": 4},
                                      task_to_domain={"pesto_tests_square": "blue"})
        workflow = conductor.wait(workflow_id)
        assert workflow["status"] == "COMPLETED", (workflow["reasonForIncompletion"],
                                                   log.read_text()[-2000:])
        assert workflow["output"]["total"] == 1 + 4 + 9 + 16
        square = next(t for t in workflow["tasks"] if t["referenceTaskName"] == "squares__0")
        assert square["domain"] == "blue"
        assert list((tmp_path / "manifests" / workflow_id).glob("squares__0.json"))
        scraped = wait_until(lambda: _scrape(metrics), timeout=30, what="the metrics endpoint")
        assert "pesto_tests_square" in scraped
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()[-2000:]


def _scrape(port: int) -> str:
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    except httpx.HTTPError:
        return ""
    return answer.text if "pesto_tests_square" in answer.text else ""


def test_a_bad_service_option_is_named(conductor):
    done = subprocess.run([WORKER, "--conductor", conductor.url, "--service", "split"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "--service 'split': expected NAME=" in done.stderr
