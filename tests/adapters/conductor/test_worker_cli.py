"""`python -m pesto_factory.adapters.conductor.worker`: registers a spec's definitions through the SDK and
runs the workers of running services as a real process, until SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tests.adapters.conftest import SQUARES
from tests.conftest import wait_until

pytestmark = pytest.mark.slow


def test_the_worker_command_registers_and_runs_the_chain(conductor, squares_services, tmp_path):
    args = [sys.executable, "-m", "pesto_factory.adapters.conductor.worker", "--conductor", conductor.url,
            "--register", str(SQUARES), "--threads", "3"]
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
        workflow = conductor.wait(conductor.start("squares", {"count": 4}))
        assert workflow["status"] == "COMPLETED", (workflow["reasonForIncompletion"],
                                                   log.read_text()[-2000:])
        assert workflow["output"]["total"] == 1 + 4 + 9 + 16
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()[-2000:]


def test_a_bad_service_option_is_named(conductor):
    done = subprocess.run([sys.executable, "-m", "pesto_factory.adapters.conductor.worker", "--conductor",
                           conductor.url, "--service", "split"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0 and "--service 'split': expected NAME=" in done.stderr
