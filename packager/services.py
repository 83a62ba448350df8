"""A running service to call: the runtime as a local subprocess, or a built image in a container.

Both are context managers yielding the service's base URL on 127.0.0.1 once its health route
answers, and stopping the service on exit. Waiting polls with a deadline and gives up early
(with the service's own log) when the process or container dies.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from pesto_factory.schemas.errors import PestoError

__all__ = ["ServiceNotReady", "CallFailed", "local_service", "container_service", "wait_healthy",
           "free_port", "call", "process", "describe", "HEALTH_PATH"]

log = logging.getLogger(__name__)

HEALTH_PATH = "/api/v1/health"


class ServiceNotReady(PestoError):
    """The service did not become healthy (it exited, or the deadline passed)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, *, timeout: float, exited: Callable[[], str | None]) -> None:
    """Poll `url`'s health route until it answers 200; `exited()` returns a log if it died."""
    import httpx

    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        logs = exited()
        if logs is not None:
            raise ServiceNotReady(f"the service exited before it was ready:\n{_tail(logs)}")
        try:
            response = httpx.get(url + HEALTH_PATH, timeout=2)
            if response.status_code == 200:
                return
            last = f"health answered {response.status_code}"
        except httpx.HTTPError as exc:
            last = str(exc) or type(exc).__name__
        time.sleep(0.2)
    raise ServiceNotReady(f"the service at {url} was not healthy after {timeout:.0f} s ({last})")


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


@contextlib.contextmanager
def local_service(root: Path, profiles: tuple[str, ...] = (), *, timeout: float = 60,
                  env: dict[str, str] | None = None) -> Iterator[str]:
    """`pesto-runtime serve` on 127.0.0.1 in a subprocess, with a throw-away state dir."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="pesto-local-") as state, \
            tempfile.TemporaryFile(mode="w+") as output:
        command = [sys.executable, "-m", "pesto_factory.runtime.cli", "serve", str(root),
                   "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        for profile in profiles:
            command += ["--profile", profile]
        environment = {**os.environ, "PESTO_STATE_DIR": state, **(env or {})}
        environment.pop("PESTO_PROFILES", None)
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                   env=environment, cwd=state)

        def exited() -> str | None:
            if process.poll() is None:
                return None
            output.seek(0)
            return output.read()

        try:
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url, timeout=timeout, exited=exited)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def container_service(image: str, *, gpu: bool = False, timeout: float = 90,
                      client: object | None = None) -> Iterator[str]:
    """Run `image` published on 127.0.0.1 (random port) until healthy; removed on exit."""
    from pesto_factory.packager.engine import connect, run_container

    client = client or connect()
    container, running = run_container(client, image, gpu=gpu)

    def exited() -> str | None:
        with contextlib.suppress(Exception):
            container.reload()
            if container.status in ("exited", "dead"):
                return container.logs().decode("utf-8", "replace")
        return None

    try:
        wait_healthy(running.url, timeout=timeout, exited=exited)
        yield running.url
    finally:
        with contextlib.suppress(Exception):
            container.stop(timeout=5)
        with contextlib.suppress(Exception):
            container.remove(force=True)


class CallFailed(PestoError):
    """The service answered a call with an error status."""


def call(url: str, method: str, path: str, *, timeout: float, **kwargs: object) -> object:
    """One JSON call to the service; an error status becomes CallFailed with the body's text."""
    import httpx

    try:
        response = httpx.request(method, url + path, timeout=timeout, **kwargs)
    except httpx.HTTPError as exc:
        raise CallFailed(f"{method} {path}: {exc or type(exc).__name__}") from exc
    if response.status_code >= 400:
        hint = None
        try:
            body = response.json()
            detail = body.get("detail") or body.get("message") or body.get("title") or body
            hint = body.get("hint")  # the service's hint reaches the user (403: which setting)
        except ValueError:
            detail = response.text[:500]
        raise CallFailed(f"{method} {path} answered {response.status_code}: {detail}", hint=hint)
    return response.json()


def process(url: str, payload: dict, *, timeout: float = 600) -> dict:
    """POST /api/v1/process with image outputs inline (base64), the result's JSON."""
    return call(url, "POST", "/api/v1/process?outputs=inline", json=payload,  # type: ignore[return-value]
                timeout=timeout)


def describe(url: str, *, timeout: float = 30) -> dict:
    return call(url, "GET", "/api/v1/describe", timeout=timeout)  # type: ignore[return-value]
