"""Fixtures of the OGC API tests: real services on 127.0.0.1, a callback receiver, a scene."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import EXAMPLES, RunningService, start_service, wait_until
from tests.runtime.conftest import MISBEHAVING, write_scene


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records the JSON bodies POSTed to it, by path."""

    port: int
    received: list[tuple[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.host}{path}"

    def bodies(self, path: str) -> list[Any]:
        with self.lock:
            return [body for where, body in self.received if where == path]

    def wait_for(self, path: str, count: int = 1) -> list[Any]:
        return wait_until(lambda: len(self.bodies(path)) >= count and self.bodies(path),
                          timeout=60, what=f"{count} callback(s) on {path}")


@pytest.fixture(scope="package")
def receiver() -> Iterator[Receiver]:
    records: list[tuple[str, Any]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            with lock:
                records.append((self.path, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(server.server_address[1], records, lock)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="package")
def ogc_root(tmp_path_factory) -> Path:
    """The folder every service of these tests may read: inputs/ holds a 4-band scene."""
    root = tmp_path_factory.mktemp("ogc")
    (root / "inputs").mkdir()
    write_scene(root / "inputs" / "scene.tif")
    return root


def _start(project: Path, root: Path, name: str, receiver: Receiver,
           **env: str) -> RunningService:
    return start_service(project, root / f"state-{name}",
                         env={"PESTO_INPUT_ROOTS": str(root),
                              "PESTO_REMOTE_HOSTS": receiver.host, **env})


@pytest.fixture(scope="package")
def ndvi(ogc_root: Path, receiver: Receiver) -> Iterator[RunningService]:
    service = _start(EXAMPLES / "ndvi", ogc_root, "ndvi", receiver)
    yield service
    service.stop()


@pytest.fixture(scope="package")
def misbehaving(ogc_root: Path, receiver: Receiver) -> Iterator[RunningService]:
    service = _start(MISBEHAVING, ogc_root, "misbehaving", receiver, PESTO_WORKERS="1")
    yield service
    service.stop()


def ogc_client(service: RunningService) -> httpx.Client:
    """An httpx client at the service's root, where the OGC API is."""
    return httpx.Client(base_url=service.url, timeout=60)
