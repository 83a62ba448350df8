"""Fixtures of the runtime tests: small georeferenced scenes and the test services."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from tests.conftest import EXAMPLES, wait_until

MISBEHAVING = Path(__file__).parent / "services" / "misbehaving"
NDVI = EXAMPLES / "ndvi"


def write_scene(path: Path, *, bands: int = 4, size: int = 64, dtype: str = "uint16",
                seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = rng.integers(1, 10000, size=(bands, size, size)).astype(dtype)
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=bands,
                       dtype=dtype, crs="EPSG:32631", nodata=0,
                       transform=from_origin(600000, 5000000, 10, 10)) as dst:
        dst.write(data)
    return data


@contextmanager
def serve_asgi(app) -> Iterator[str]:
    """A real uvicorn serving `app` on 127.0.0.1 in a thread; yields its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10, interval=0.01, what="uvicorn to start")
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def scene(tmp_path: Path) -> Path:
    path = tmp_path / "inputs" / "scene.tif"
    path.parent.mkdir()
    write_scene(path)
    return path
