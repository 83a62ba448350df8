"""Reading COGs over HTTP through GDAL's /vsicurl/, from a real server on 127.0.0.1.

GDAL reads a remote COG with HTTP range requests: Python's http.server ignores Range, so the
server is uvicorn with Starlette's StaticFiles, whose FileResponse answers Range with 206.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pesto_factory.runtime.errors import UnprocessableInput
from pesto_factory.runtime.geoimage import GeoImage
from pesto_factory.runtime.imageio import InputPolicy, read_image, read_image_ref, write_image
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from tests.runtime.conftest import serve_asgi
from tests.runtime.imageio.imageio_fixtures import TRANSFORM, ramp

pytestmark = pytest.mark.slow


class RecordingApp:
    """An ASGI wrapper that remembers each request's Range header and response status."""

    def __init__(self, app) -> None:
        self.app, self.requests = app, []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        record = {"path": scope["path"], "range": dict(scope["headers"]).get(b"range"), "bytes": 0}
        self.requests.append(record)

        async def recording_send(message):
            if message["type"] == "http.response.start":
                record["status"] = message["status"]
            elif message["type"] == "http.response.body":
                record["bytes"] += len(message.get("body", b""))
            await send(message)

        return await self.app(scope, receive, recording_send)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, Path, RecordingApp]]:
    folder = tmp_path_factory.mktemp("www")
    app = RecordingApp(Starlette(routes=[Mount("/", StaticFiles(directory=folder))]))
    with serve_asgi(app) as base:
        yield base, folder, app


def allowing(base: str) -> InputPolicy:
    """A policy naming the test server (loopback: it needs its own host:port entry)."""
    return InputPolicy(readable_roots=(), remote_hosts=(base.removeprefix("http://"),))


def test_the_server_answers_range_requests(served):
    import httpx

    base, folder, _ = served
    (folder / "bytes.bin").write_bytes(bytes(range(256)) * 4)
    response = httpx.get(f"{base}/bytes.bin", headers={"Range": "bytes=10-19"})
    assert response.status_code == 206 and response.content == bytes(range(10, 20))


def test_a_window_of_a_remote_cog_is_read_with_range_requests(served):
    base, folder, app = served
    data = np.random.default_rng(7).integers(1, 60_000, (2, 1024, 1024), dtype=np.uint16)
    write_image(GeoImage(data, crs="EPSG:32632", transform=TRANSFORM, nodata=0),
                folder / "scene-window.tif")
    size = (folder / "scene-window.tif").stat().st_size
    app.requests.clear()
    window = {"col_off": 600, "row_off": 700, "width": 100, "height": 50}
    image = read_image_ref({"href": f"{base}/scene-window.tif", "window": window, "margin": 8},
                           allowing(base))
    np.testing.assert_array_equal(image.data, data[:, 692:758, 592:708])
    assert image.margin == (8, 8, 8, 8) and image.crs == "EPSG:32632"
    assert image.transform == TRANSFORM @ TRANSFORM.translation(592, 692)
    fetched = [r for r in app.requests if r["path"] == "/scene-window.tif"]
    assert fetched and all(r["range"] for r in fetched if r["status"] == 206)
    assert sum(r["bytes"] for r in fetched) < size / 2  # only some tiles, not the file


def test_a_whole_remote_image_is_read(served):
    base, folder, _ = served
    write_image(ramp(3, 40, 50), folder / "small.tif")
    image = read_image(f"{base}/small.tif", allowing(base))
    np.testing.assert_array_equal(image.data, ramp(3, 40, 50))


def test_a_missing_remote_image_is_unprocessable_naming_the_url(served):
    base, _, _ = served
    with pytest.raises(UnprocessableInput) as caught:
        read_image(f"{base}/nothing-here.tif?token=secret", allowing(base), field="scene")
    message = caught.value.message
    assert "'scene'" in message and f"{base}/nothing-here.tif" in message
    assert "secret" not in message
