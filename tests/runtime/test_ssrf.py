"""No SSRF: a real NDVI service reads http(s) inputs only from PESTO_REMOTE_HOSTS, and every
redirect hop is checked again (a redirecting server on 127.0.0.1 tries to take it elsewhere)."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from tests.conftest import start_service
from tests.runtime.conftest import NDVI, serve_asgi, write_scene
from tests.runtime.test_api import assert_error


def _site(folder) -> Starlette:
    async def hop(request):
        return RedirectResponse(request.query_params["to"], status_code=302)

    return Starlette(routes=[Route("/hop", hop), Mount("/", StaticFiles(directory=folder))])


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """`listed` (in PESTO_REMOTE_HOSTS, redirects on /hop) and `other` (not listed)."""
    root = tmp_path_factory.mktemp("ssrf")
    (root / "www").mkdir()
    write_scene(root / "www" / "scene.tif")
    with serve_asgi(_site(root / "www")) as listed, serve_asgi(_site(root / "www")) as other:
        service = start_service(NDVI, root / "state", env={
            "PESTO_REMOTE_HOSTS": listed.removeprefix("http://")})
        with service.client() as http:
            yield http, listed, other, service.url
        service.stop()


def test_a_listed_host_is_read_and_may_redirect_to_itself(sites) -> None:
    http, listed, _, _ = sites
    assert http.post("/process", json={"image": f"{listed}/scene.tif"}).status_code == 200
    hop = f"{listed}/hop?to={listed}/scene.tif"
    assert http.post("/process", json={"image": hop}).status_code == 200


def test_an_unlisted_host_is_refused_before_queueing(sites) -> None:
    http, _, other, service_url = sites
    assert_error(http.post("/process", json={"image": f"{other}/scene.tif"}), 403,
                 contains=other.removeprefix("http://"))
    assert_error(http.post("/process", json={"image": f"{service_url}/api/v1/metrics"}), 403,
                 contains="loopback")


@pytest.mark.parametrize("target", ["other", "service"])
def test_a_redirect_off_the_list_is_refused_at_the_hop(sites, target: str) -> None:
    http, listed, other, service_url = sites
    where = f"{other}/scene.tif" if target == "other" else f"{service_url}/api/v1/metrics"
    body = assert_error(http.post("/process", json={"image": f"{listed}/hop?to={where}"}), 403,
                        contains="not allowed")
    assert where.removeprefix("http://").split("/")[0] in body["message"]
