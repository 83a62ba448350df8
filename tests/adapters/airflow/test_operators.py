"""PestoHook, PestoProcessOperator and PestoJobTrigger against a mocked service (httpx
MockTransport behind the real clients): connections, sync and deferrable calls, error mapping."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred
from pesto_factory.adapters.airflow import get_provider_info
from pesto_factory.adapters.airflow.hooks.pesto import PestoHook
from pesto_factory.adapters.airflow.operators.pesto import PestoProcessOperator
from pesto_factory.adapters.airflow.triggers.pesto import PestoJobTrigger
from pesto_factory.adapters.client import AsyncServiceClient, ServiceClient

BASE = "http://svc:8080"


class FakeService:
    """A geoprocessing API in memory: records requests, answers per a few switches."""

    def __init__(self, *, process_status: int = 200, job_states: tuple[str, ...] = ("SUCCEEDED",),
                 message: str = "bad tile") -> None:
        self.requests: list[httpx.Request] = []
        self.process_status = process_status
        self.job_states = list(job_states)
        self.message = message
        self.list_values = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/api/v1/process":
            if self.process_status != 200:
                return httpx.Response(self.process_status, json={"message": self.message})
            return httpx.Response(200, json={"mask": "file:///out/m.tif", "echo": _body(request)})
        if path == "/api/v1/jobs":
            return httpx.Response(201, json=self._status("j1"),
                                  headers={"Location": f"{BASE}/api/v1/jobs/j1/status"})
        if path == "/api/v1/jobs/j1/status":
            state = self.job_states.pop(0) if len(self.job_states) > 1 else self.job_states[0]
            return httpx.Response(200, json=self._status("j1", state))
        if path == "/api/v1/jobs/j1/results":
            listing = [
                {"id": "fraction", "_link": {"href": f"{BASE}/api/v1/jobs/j1/results/fraction",
                                             "type": "application/json"}},
                {"id": "mask", "_link": {"href": f"{BASE}/api/v1/jobs/j1/results/mask",
                                         "type": "image/tiff"}}]
            if self.list_values:
                listing[0]["value"], listing[1]["value"] = 0.25, "file:///out/mask.tif"
            return httpx.Response(200, json=listing)
        if path == "/api/v1/jobs/j1/results/fraction":
            return httpx.Response(200, json=0.25)
        return httpx.Response(404, json={"message": f"no route {path}"})

    def _status(self, job_id: str, state: str = "ACCEPTED") -> dict:
        body = {"jobId": job_id, "status": state}
        if state == "FAILED":
            body["message"] = self.message
        return body


def _body(request: httpx.Request) -> dict:
    return json.loads(request.content)


@pytest.fixture
def service(monkeypatch) -> FakeService:
    fake = FakeService()
    transport = httpx.MockTransport(fake)

    def get_conn(hook):
        return ServiceClient(BASE, token="secret-token", transport=transport)

    async def aget_conn(hook):
        return AsyncServiceClient(BASE, transport=transport)

    monkeypatch.setattr(PestoHook, "get_conn", get_conn)
    monkeypatch.setattr(PestoHook, "aget_conn", aget_conn)
    return fake


def test_the_hook_builds_the_client_from_the_connection(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PESTO_TEST", json.dumps(
        {"conn_type": "http", "host": "10.0.0.5", "port": 8083, "schema": "https",
         "password": "a-long-token"}))
    with PestoHook("pesto_test").get_conn() as client:
        assert client.base_url == "https://10.0.0.5:8083/api/v1"
        assert client._calls.headers["Authorization"] == "Bearer a-long-token"


def test_a_host_with_a_scheme_is_used_as_given(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PESTO_TEST", json.dumps(
        {"conn_type": "http", "host": "http://svc.local:9000"}))
    client = asyncio.run(PestoHook("pesto_test").aget_conn())
    assert client.base_url == "http://svc.local:9000/api/v1"
    assert "Authorization" not in client._calls.headers


def test_the_provider_registers_the_connection_type():
    info = get_provider_info()
    assert info["connection-types"] == [
        {"connection-type": "pesto", "hook-class-name": "pesto_factory.adapters.airflow.hooks.pesto.PestoHook"}]
    assert PestoHook.conn_type == "pesto"


def test_the_constructor_stores_its_arguments_unchanged():
    inputs = {"tile": "{{ params.tile }}"}
    op = PestoProcessOperator(task_id="t", inputs=inputs, pesto_conn_id="c", deferrable=True,
                              poll_interval=0.5, job_timeout=60)
    assert op.inputs is inputs
    assert (op.pesto_conn_id, op.deferrable, op.poll_interval, op.job_timeout) == (
        "c", True, 0.5, 60)
    assert op.template_fields == ("inputs",)
    with pytest.raises(TypeError):
        PestoProcessOperator("t")  # keyword-only


def test_sync_execute_returns_the_outputs(service):
    op = PestoProcessOperator(task_id="t", inputs={"tile": {"href": "file:///a.tif"},
                                                   "skip": None})
    outputs = op.execute({})
    assert outputs == {"mask": "file:///out/m.tif", "echo": {"tile": {"href": "file:///a.tif"}}}
    assert service.requests[0].headers["Authorization"] == "Bearer secret-token"


@pytest.mark.parametrize(("status", "error"), [(400, AirflowFailException),
                                               (503, AirflowException), (500, AirflowException)])
def test_client_errors_fail_and_server_errors_retry(service, status, error):
    service.process_status = status
    with pytest.raises(error, match="bad tile") as caught:
        PestoProcessOperator(task_id="t", inputs={}).execute({})
    assert (type(caught.value) is AirflowFailException) == (status == 400)


def test_deferrable_execute_submits_and_defers_to_the_trigger(service):
    op = PestoProcessOperator(task_id="t", inputs={"x": 1}, pesto_conn_id="c",
                              deferrable=True, poll_interval=0.5, job_timeout=30)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({})
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.trigger.serialize() == (
        "pesto_factory.adapters.airflow.triggers.pesto.PestoJobTrigger",
        {"pesto_conn_id": "c", "job_id": "j1", "poll_interval": 0.5, "timeout": 30})
    assert [r.url.path for r in service.requests] == ["/api/v1/jobs"]
    assert _body(service.requests[0]) == {"x": 1}


def test_execute_complete_returns_references(service):
    op = PestoProcessOperator(task_id="t", deferrable=True)
    outputs = op.execute_complete({}, {"status": "success", "job_id": "j1", "message": "ok"})
    assert outputs == {"fraction": 0.25, "mask": f"{BASE}/api/v1/jobs/j1/results/mask"}
    assert "/api/v1/jobs/j1/results/mask" not in [r.url.path for r in service.requests]


def test_execute_complete_takes_the_listed_values_as_a_sync_call_gives_them(service):
    service.list_values = True  # a PESTO runtime lists each output's value (file:// for images)
    op = PestoProcessOperator(task_id="t", deferrable=True)
    outputs = op.execute_complete({}, {"status": "success", "job_id": "j1", "message": "ok"})
    assert outputs == {"fraction": 0.25, "mask": "file:///out/mask.tif"}
    assert [r.url.path for r in service.requests] == ["/api/v1/jobs/j1/results"]


@pytest.mark.parametrize(("retryable", "error"), [(False, AirflowFailException),
                                                  (True, AirflowException)])
def test_execute_complete_fails_on_an_error_event(retryable, error):
    op = PestoProcessOperator(task_id="t")
    event = {"status": "error", "job_id": "j1", "message": "boom", "retryable": retryable}
    with pytest.raises(error, match="job j1 failed: boom") as caught:
        op.execute_complete({}, event)
    assert (type(caught.value) is AirflowFailException) == (not retryable)


def _events(trigger: PestoJobTrigger) -> list[dict]:
    async def collect():
        return [event.payload async for event in trigger.run()]
    return asyncio.run(collect())


def test_the_trigger_polls_until_success(service):
    service.job_states = ["ACCEPTED", "RUNNING", "SUCCEEDED"]
    trigger = PestoJobTrigger(pesto_conn_id="c", job_id="j1", poll_interval=0.01)
    assert _events(trigger) == [{"status": "success", "job_id": "j1",
                                 "message": "job j1 SUCCEEDED"}]
    assert [r.url.path for r in service.requests] == ["/api/v1/jobs/j1/status"] * 3


def test_the_trigger_reports_a_failed_job(service):
    service.job_states = ["RUNNING", "FAILED"]
    trigger = PestoJobTrigger(pesto_conn_id="c", job_id="j1", poll_interval=0.01)
    assert _events(trigger) == [{"status": "error", "job_id": "j1", "message": "bad tile",
                                 "retryable": False}]


def test_the_trigger_gives_up_at_its_deadline(service):
    service.job_states = ["RUNNING"]
    trigger = PestoJobTrigger(pesto_conn_id="c", job_id="j1", poll_interval=0.01, timeout=0.05)
    [event] = _events(trigger)
    assert event["status"] == "error" and "still RUNNING" in event["message"]
    assert event["retryable"] is False


def test_the_trigger_serializes_json_primitives_only():
    trigger = PestoJobTrigger(pesto_conn_id="pesto_merge", job_id="abc", poll_interval=2.0,
                              timeout=None)
    path, kwargs = trigger.serialize()
    assert path == "pesto_factory.adapters.airflow.triggers.pesto.PestoJobTrigger"
    assert kwargs == {"pesto_conn_id": "pesto_merge", "job_id": "abc", "poll_interval": 2.0,
                      "timeout": None}
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert PestoJobTrigger(**kwargs).serialize() == (path, kwargs)


def test_the_provider_entry_point_is_installed():
    from importlib.metadata import entry_points

    found = [point.value for point in entry_points(group="apache_airflow_provider")]
    assert "pesto_factory.adapters.airflow:get_provider_info" in found


def test_a_deferred_imageref_output_becomes_a_reference_object(service):
    class RefOperator(PestoProcessOperator):
        reference_outputs = ("mask",)

    outputs = RefOperator(task_id="t").execute_complete(
        {}, {"status": "success", "job_id": "j1", "message": "ok"})
    assert outputs["mask"] == {"href": f"{BASE}/api/v1/jobs/j1/results/mask"}
