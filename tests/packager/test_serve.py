"""`packager serve`: a local dev server that picks up a changed project without a restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import free_port, wait_until


def _title(url: str) -> str | None:
    try:
        return httpx.get(f"{url}/api/v1/describe", timeout=2).json()["title"]
    except (httpx.HTTPError, ValueError, KeyError):
        return None


def test_serve_reloads_on_change(ndvi: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PESTO_STATE_DIR": str(ndvi / ".state")}
    server = subprocess.Popen(
        [sys.executable, "-m", "pesto_factory.packager", "serve", str(ndvi), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        assert wait_until(lambda: _title(url), timeout=60, interval=0.2, what="the dev server") == "NDVI"
        path = ndvi / "pesto" / "api" / "description.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "title": "NDVI v2"}))
        wait_until(lambda: _title(url) == "NDVI v2", timeout=60, interval=0.2, what="the reload")
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
