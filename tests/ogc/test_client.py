"""`OgcProcessClient` on a mock transport: outputs made plain, jobs polled, problems read."""

from __future__ import annotations

import json

import httpx
import pytest
from pesto_factory.adapters.client import (
    ClientError,
    JobFailed,
    OgcProcessClient,
    is_process_url,
    plain_outputs,
)

URL = "http://ogc.test/api/processes/p"
DESCRIPTION = {
    "id": "p", "version": "1",
    "inputs": {"image": {"schema": {"type": "string", "contentMediaType": "image/tiff"}},
               "n": {"schema": {"type": "integer"}}},
    "outputs": {"mask": {"schema": {"type": "string", "contentMediaType": "image/tiff"}},
                "tile": {"schema": {"type": "object"}},
                "stats": {"schema": {"type": "object"}}},
}
DOCUMENT = {"mask": {"href": "file:///m.tif", "type": "image/tiff"},
            "tile": {"href": "file:///s.tif", "type": "image/tiff", "window": {"col_off": 0}},
            "stats": {"value": {"mean": 0.5}, "mediaType": "application/json"}}
PLAIN = {"mask": "file:///m.tif", "tile": {"href": "file:///s.tif", "window": {"col_off": 0}},
         "stats": {"mean": 0.5}}


def test_process_urls():
    assert is_process_url(URL) and is_process_url(f"{URL}/")
    assert not is_process_url("http://ogc.test/api/v1")
    assert not is_process_url(f"{URL}/execution")
    with pytest.raises(ValueError, match="PROCESS_ID"):
        OgcProcessClient("http://ogc.test/")


def test_results_documents_become_plain_outputs():
    assert plain_outputs(DOCUMENT, DESCRIPTION["outputs"]) == PLAIN
    one = {"echo": {"schema": {"type": "object"}}}
    assert plain_outputs({"outputs": [{"id": "echo", "value": "hi"}]}, one) == {"echo": "hi"}
    assert plain_outputs({"id": "echo", "value": "hi"}, one) == {"echo": "hi"}
    assert plain_outputs({"anything": 1}, one) == {"echo": {"anything": 1}}


def _client(handler) -> OgcProcessClient:
    return OgcProcessClient(URL, transport=httpx.MockTransport(handler), sleep=lambda _: None)


def test_sync_execution_sends_images_as_links():
    sent = {}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=DESCRIPTION)
        sent.update(json.loads(request.content))
        return httpx.Response(200, json=DOCUMENT)

    with _client(handler) as client:
        assert client.process({"image": "s3://b/scene.tif", "n": 2}) == PLAIN
    assert sent == {"inputs": {"image": {"href": "s3://b/scene.tif"}, "n": 2}}


def test_a_job_is_polled_until_it_ends():
    polls = iter(["accepted", "running", "successful"])

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST":
            return httpx.Response(201, json={"jobID": "j", "status": "accepted"},
                                  headers={"Location": "http://ogc.test/api/jobs/j"})
        if path.endswith("/jobs/j"):
            status = next(polls)
            links = [{"rel": "http://www.opengis.net/def/rel/ogc/1.0/results",
                      "href": "http://ogc.test/api/jobs/j/results"}]
            return httpx.Response(200, json={"jobID": "j", "status": status, "links": links})
        if path.endswith("/jobs/j/results"):
            return httpx.Response(200, json=DOCUMENT)
        return httpx.Response(200, json=DESCRIPTION)

    with _client(handler) as client:
        assert client.process({"n": 1}) == PLAIN


def test_failures_are_service_errors_with_the_problem_detail():
    def failing_job(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, json={"jobID": "j", "status": "running"},
                                  headers={"Location": "http://ogc.test/api/jobs/j"})
        if request.url.path.endswith("/jobs/j"):
            return httpx.Response(200, json={"jobID": "j", "status": "failed",
                                             "message": "no pixels"})
        return httpx.Response(200, json=DESCRIPTION)

    with _client(failing_job) as client, pytest.raises(JobFailed, match="no pixels"):
        client.process({})

    def refusing(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=DESCRIPTION)
        return httpx.Response(400, json={"type": "x", "title": "bad", "detail": "n < 0"},
                              headers={"content-type": "application/problem+json"})

    with _client(refusing) as client, pytest.raises(ClientError) as caught:
        client.process({"n": -1})
    assert caught.value.service_message == "n < 0" and caught.value.status_code == 400
