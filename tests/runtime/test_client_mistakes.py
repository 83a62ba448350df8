# ruff: noqa: F811 - the fixtures of test_api, imported, are the tests' parameters
"""No 5xx for a client's mistake: each case found by fuzzing answers 400/422 naming the field,
and an unexpected error still carries its correlation id and is counted."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pesto_factory.runtime.api.middleware import RequestGuard
from pesto_factory.runtime.metrics import ServiceMetrics

from tests.runtime.test_api import assert_error, client, ndvi, scene_uri  # noqa: F401 - fixtures


def post_json(client, text: str):
    return client.post("/process", content=text.encode(),
                       headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("offset", [2**63, 2**64 + 1, 10**30])
def test_huge_offset_is_400(client, offset: int) -> None:
    assert_error(client.get(f"/jobs?offset={offset}"), 400, contains="offset")
    assert_error(client.get(f"/jobs?limit={offset}"), 400, contains="limit")


def test_file_uri_with_encoded_nul_is_400(client) -> None:
    assert_error(client.post("/process", json={"image": "file:///tmp/a%00b.tif"}), 400,
                 contains="NUL")


@pytest.mark.parametrize("text", [
    '{"image": "file:///x.tif", "red_band": ' + "9" * 5000 + "}",
    '{"image": "file:///x.tif", "red_band": NaN}',
    '{"image": "file:///x.tif", "red_band": Infinity}',
    '{"image": "file:///x.tif", "red_band": -Infinity}',
    '{"image": "file:///x.tif", "red_band": 1e999}',
])
def test_numbers_that_are_not_json_are_400(client, text: str) -> None:
    assert_error(post_json(client, text), 400, contains="JSON")


@pytest.mark.parametrize(("band", "contains"), [
    ("3.0", "red_band"), ("278", "red_band"), ("0", "red_band"), ("true", "red_band"),
])
def test_ndvi_band_numbers_are_bounded_integers(client, scene_uri, band, contains) -> None:
    text = f'{{"image": "{scene_uri}", "red_band": {band}}}'
    assert_error(post_json(client, text), 400, contains=contains)


def test_band_missing_from_the_image_is_422(client, scene_uri) -> None:
    body = assert_error(client.post("/process", json={"image": scene_uri, "red_band": 9}), 422,
                        contains="red_band=9")
    assert "4 band(s)" in body["message"]


def test_large_json_body_is_parsed_off_the_loop_and_checked(client) -> None:
    big = '{"image": "file:///x.tif", "pad": "' + "x" * (3 << 19) + '"}'  # 1.5 MiB, spooled
    assert_error(post_json(client, big), 400, contains="pad")


def test_unexpected_error_is_500_with_correlation_id_and_counted() -> None:
    app = FastAPI()

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret detail")

    metrics = ServiceMetrics()
    app.add_middleware(RequestGuard, max_body_bytes=1024, metrics=metrics)
    with TestClient(app, raise_server_exceptions=False) as http:
        response = http.get("/boom", headers={"X-Correlation-ID": "c-42"})
    assert response.status_code == 500
    assert response.headers["x-correlation-id"] == "c-42"
    assert response.json()["correlationId"] == "c-42"
    assert "secret detail" not in response.text
    assert 'route="/boom",status="500"} 1.0' in metrics.render().decode()
