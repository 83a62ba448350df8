"""The REST client against httpx.MockTransport: requests sent, answers parsed, errors mapped."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from pesto_factory.adapters.client import (
    AsyncServiceClient,
    ClientError,
    JobFailed,
    JobRef,
    JobStatus,
    ServerError,
    ServiceClient,
    ServiceError,
    ServiceUnreachable,
    UnexpectedResponse,
    WaitTimeout,
    call_with_retries,
    is_retryable,
)

BASE = "http://svc:8080"
API = f"{BASE}/api/v1"


def _status(job_id: str, status: str, **extra) -> dict:
    href = f"{API}/jobs/{job_id}"
    return {"jobId": job_id, "status": status, "progress": extra.pop("progress", 0),
            "created": "2026-01-01T00:00:00.000+00:00", "started": None, "finished": None,
            "_links": {"self": {"href": f"{href}/status"}, "results": {"href": f"{href}/results"},
                       "cancel": {"href": href, "method": "DELETE"}}, **extra}


def _error(status: int, message: str, **headers) -> httpx.Response:
    return httpx.Response(status, headers=headers, json={
        "message": message, "hint": "try this", "correlationId": "corr-1",
        "timestamp": "2026-01-01T00:00:00.000+00:00"})


class Recorder:
    """A MockTransport handler that answers from a list and records the requests."""

    def __init__(self, *answers) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _client(*answers, **kwargs) -> tuple[ServiceClient, Recorder]:
    recorder = Recorder(*answers)
    sleeps: list[float] = kwargs.pop("sleeps", [])
    return ServiceClient(BASE, transport=httpx.MockTransport(recorder), sleep=sleeps.append,
                         **kwargs), recorder


@pytest.mark.parametrize(("status", "retryable"), [
    (200, False), (400, False), (401, False), (404, False), (409, False), (413, False),
    (422, False), (429, True), (500, True), (501, False), (502, True), (503, True), (504, True),
])
def test_is_retryable_is_a_pure_predicate_on_the_status(status, retryable):
    assert is_retryable(status) is retryable


@pytest.mark.parametrize("base", [BASE, f"{BASE}/", API, f"{API}/"])
def test_base_url_forms_reach_the_api_root(base):
    recorder = Recorder(httpx.Response(200, text="OK"))
    with ServiceClient(base, transport=httpx.MockTransport(recorder)) as client:
        assert client.health() == "OK"
    assert str(recorder.requests[0].url) == f"{API}/health"


def test_process_posts_json_with_token_and_reads_outputs():
    client, recorder = _client(httpx.Response(200, json={"ndvi": "file:///o/ndvi.tif"}),
                               httpx.Response(200, json={"ndvi": "AAAA"}), token="s3cret")
    assert client.process({"image": "file:///i.tif"}) == {"ndvi": "file:///o/ndvi.tif"}
    assert client.process({"image": "x"}, inline=True) == {"ndvi": "AAAA"}
    first, second = recorder.requests
    assert (first.method, str(first.url)) == ("POST", f"{API}/process")
    assert json.loads(first.content) == {"image": "file:///i.tif"}
    assert first.headers["authorization"] == "Bearer s3cret"
    assert first.headers["content-type"] == "application/json"
    assert first.extensions["timeout"]["read"] == 3660.0  # the process timeout
    assert str(second.url) == f"{API}/process?outputs=inline"


def test_error_bodies_become_typed_errors_with_their_fields():
    client, _ = _client(_error(400, "input 'red_band': -1 is less than 1"),
                        _error(503, "queue full", **{"Retry-After": "7"}),
                        httpx.Response(500, text="plain failure"))
    with pytest.raises(ClientError) as caught:
        client.process({})
    error = caught.value
    assert (error.status_code, error.retryable, error.hint, error.correlation_id) == \
        (400, False, "try this", "corr-1")
    assert error.service_message == "input 'red_band': -1 is less than 1"
    assert error.message == f"POST {API}/process answered 400: input 'red_band': -1 is less than 1"
    with pytest.raises(ServerError) as caught:
        client.describe()
    assert (caught.value.status_code, caught.value.retryable, caught.value.retry_after) == \
        (503, True, 7.0)
    with pytest.raises(ServerError) as caught:
        client.describe()
    assert caught.value.service_message == "plain failure"
    assert isinstance(caught.value, ServiceError)


def test_retry_after_as_an_http_date():
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    client, _ = _client(_error(503, "busy", **{"Retry-After": later}))
    with pytest.raises(ServerError) as caught:
        client.health()
    assert 25 <= caught.value.retry_after <= 30


def test_transport_failures_are_translated_with_their_cause():
    refused = httpx.ConnectError("connection refused")
    client, _ = _client(refused, httpx.ReadTimeout("slow"), httpx.ReadTimeout("slow"))
    with pytest.raises(ServiceUnreachable) as caught:
        client.process({})
    assert caught.value.retryable and caught.value.status_code is None  # never sent
    assert caught.value.__cause__ is refused
    with pytest.raises(ServiceUnreachable, match="timed out") as caught:
        client.process({})
    assert not caught.value.retryable  # a POST that may have run
    with pytest.raises(ServiceUnreachable) as caught:
        client.describe()
    assert caught.value.retryable  # a GET can be repeated


def test_unexpected_answers_are_named():
    client, _ = _client(httpx.Response(200, text="<html>"), httpx.Response(200, json=[1]),
                        httpx.Response(200, json={"no": "job"}))
    with pytest.raises(UnexpectedResponse, match="not JSON"):
        client.describe()
    with pytest.raises(UnexpectedResponse, match="expected a JSON dict, got list"):
        client.describe()
    with pytest.raises(UnexpectedResponse, match="not a job status body"):
        client.status("j1")


def test_submit_status_results_result_cancel(tmp_path):
    client, recorder = _client(
        httpx.Response(201, json=_status("j1", "ACCEPTED"),
                       headers={"Location": f"{API}/jobs/j1/status"}),
        httpx.Response(200, json=_status("j1", "RUNNING", progress=42, message="half")),
        httpx.Response(200, json=[
            {"id": "ndvi", "_link": {"href": f"{API}/jobs/j1/results/ndvi", "type": "image/tiff"}},
            {"id": "mean", "_link": {"href": f"{API}/jobs/j1/results/mean",
                                     "type": "application/json"}}]),
        httpx.Response(200, json=0.41),
        httpx.Response(200, content=b"II*\x00", headers={"content-type": "image/tiff"}),
        httpx.Response(200, content=b"II*\x00", headers={"content-type": "image/tiff"}),
        httpx.Response(204))
    job = client.submit({"image": "x"})
    assert job == JobRef("j1", f"{API}/jobs/j1/status")
    state = client.status(job)
    assert (state.status, state.progress, state.message) == (JobStatus.RUNNING, 42, "half")
    assert state.links["results"] == f"{API}/jobs/j1/results" and state.ref.id == "j1"
    links = client.results("j1")
    assert list(links) == ["ndvi", "mean"]
    assert links["ndvi"].media_type == "image/tiff" and not links["ndvi"].is_json
    assert client.result(job, "mean") == 0.41
    assert client.result(job, "ndvi") == b"II*\x00"
    saved = client.download(job, "ndvi", tmp_path / "ndvi.tif")
    assert saved.read_bytes() == b"II*\x00" and list(tmp_path.iterdir()) == [saved]
    client.cancel(job)
    assert [(r.method, r.url.path) for r in recorder.requests] == [
        ("POST", "/api/v1/jobs"), ("GET", "/api/v1/jobs/j1/status"),
        ("GET", "/api/v1/jobs/j1/results"), ("GET", "/api/v1/jobs/j1/results/mean"),
        ("GET", "/api/v1/jobs/j1/results/ndvi"), ("GET", "/api/v1/jobs/j1/results/ndvi"),
        ("DELETE", "/api/v1/jobs/j1")]


def test_wait_polls_and_sleeps_until_the_job_succeeds():
    sleeps: list[float] = []
    client, recorder = _client(
        httpx.Response(200, json=_status("j1", "ACCEPTED")),
        httpx.Response(200, json=_status("j1", "RUNNING", progress=50)),
        httpx.Response(200, json=_status("j1", "SUCCEEDED", progress=100)), sleeps=sleeps)
    seen: list[int | None] = []
    state = client.wait("j1", poll_interval=0.25, on_status=lambda s: seen.append(s.progress))
    assert state.status is JobStatus.SUCCEEDED
    assert seen == [0, 50, 100]
    assert sleeps == [0.25, 0.25]  # a pause between polls, none after the last
    assert len(recorder.requests) == 3


@pytest.mark.parametrize("status", ["FAILED", "CANCELLED"])
def test_wait_raises_job_failed_with_the_reason(status):
    client, _ = _client(httpx.Response(200, json=_status("j1", status, message="bad pixels")))
    with pytest.raises(JobFailed) as caught:
        client.wait("j1")
    assert (caught.value.job_id, caught.value.status) == ("j1", status)
    assert caught.value.service_message == "bad pixels"
    assert not caught.value.retryable


def test_wait_gives_up_at_the_deadline():
    recorder = Recorder(*[httpx.Response(200, json=_status("j1", "RUNNING"))
                          for _ in range(50)])
    now = [0.0]  # fake time: each sleep advances the clock the deadline is read from

    def sleep(seconds: float) -> None:
        now[0] += seconds

    client = ServiceClient(BASE, transport=httpx.MockTransport(recorder), sleep=sleep,
                           clock=lambda: now[0])
    with pytest.raises(WaitTimeout, match="still RUNNING after 1.0 s") as caught:
        client.wait("j1", poll_interval=0.25, timeout=1.0)
    assert caught.value.job_id == "j1"
    assert len(recorder.requests) == 5 and now[0] == 1.0  # polls at 0, .25, .5, .75 and 1


def test_call_with_retries_honours_retry_after_and_the_predicate():
    sleeps: list[float] = []
    client, recorder = _client(_error(503, "busy", **{"Retry-After": "3"}),
                               _error(429, "slow down"),
                               httpx.Response(200, json={"ok": True}),
                               _error(500, "algorithm failed"))
    result = call_with_retries(lambda: client.process({}), sleep=sleeps.append)
    assert result == {"ok": True} and sleeps == [3.0, 1.0]
    with pytest.raises(ServerError):
        call_with_retries(lambda: client.process({}), sleep=sleeps.append,
                          when=lambda error: error.status_code in (429, 503))
    assert len(recorder.requests) == 4 and sleeps == [3.0, 1.0]


def test_call_with_retries_stops_after_its_attempts():
    sleeps: list[float] = []
    client, recorder = _client(*[_error(503, "busy") for _ in range(3)])
    with pytest.raises(ServerError, match="busy"):
        call_with_retries(lambda: client.process({}), attempts=3, sleep=sleeps.append)
    assert len(recorder.requests) == 3 and sleeps == [0.5, 1.0]


def test_the_async_client_drives_the_same_calls():
    answers = Recorder(httpx.Response(200, json={"name": "svc"}),
                       httpx.Response(201, json=_status("j2", "ACCEPTED")),
                       httpx.Response(200, json=_status("j2", "RUNNING")),
                       httpx.Response(200, json=_status("j2", "SUCCEEDED")),
                       _error(404, "no such job"))

    async def scenario():
        async with AsyncServiceClient(API, transport=httpx.MockTransport(answers)) as client:
            assert await client.describe() == {"name": "svc"}
            job = await client.submit({})
            assert job.href == f"{API}/jobs/j2/status"  # from _links without Location
            state = await client.wait(job, poll_interval=0.001)
            assert state.status is JobStatus.SUCCEEDED
            with pytest.raises(ClientError, match="no such job"):
                await client.status("nope")

    asyncio.run(scenario())
    assert len(answers.requests) == 5
