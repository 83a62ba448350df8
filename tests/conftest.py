"""Fixtures shared by every test: real services on 127.0.0.1, started and stopped by the tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, *, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll `predicate` until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@dataclass
class RunningService:
    """A `pesto-runtime serve` process on 127.0.0.1."""

    process: subprocess.Popen
    url: str
    env: dict[str, str]
    log: Path

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/api/v1", timeout=60, **kwargs)

    def stop(self, *, kill: bool = False) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self.process.wait(timeout=30)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def start_service(service_dir: Path, state_dir: Path, *, env: dict[str, str] | None = None,
                  profiles: tuple[str, ...] = (), healthy: bool = True,
                  port: int | None = None) -> RunningService:
    port = port or free_port()  # a given port: a restart where clients already point
    state_dir.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "PESTO_STATE_DIR": str(state_dir), **(env or {})}
    full_env.pop("PESTO_API_TOKEN", None) if "PESTO_API_TOKEN" not in (env or {}) else None
    log = state_dir / f"service-{port}.log"
    args = [sys.executable, "-m", "pesto_factory.runtime.cli", "serve", str(service_dir), "--port", str(port)]
    for profile in profiles:
        args += ["-p", profile]
    process = subprocess.Popen(args, env=full_env, stdout=log.open("wb"),
                               stderr=subprocess.STDOUT, cwd=REPO)
    service = RunningService(process, f"http://127.0.0.1:{port}", full_env, log)

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"service exited early:\n{service.log_text()}")
        try:
            response = httpx.get(f"{service.url}/api/v1/health", timeout=2)
        except httpx.TransportError:
            return False
        return response.status_code == 200 if healthy else response.status_code in (200, 503)

    try:
        wait_until(ready, timeout=60, what=f"health of {service_dir.name}")
    except AssertionError:
        service.stop(kill=True)
        raise
    return service


@pytest.fixture
def service_factory(tmp_path: Path) -> Iterator:
    started: list[RunningService] = []

    def factory(service_dir: Path, *, state_dir: Path | None = None, **kwargs) -> RunningService:
        service = start_service(service_dir, state_dir or tmp_path / "state", **kwargs)
        started.append(service)
        return service

    yield factory
    for service in started:
        service.stop(kill=True)
