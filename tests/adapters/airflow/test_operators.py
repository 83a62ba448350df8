"""PestoHook, PestoProcessOperator and PestoJobTrigger against a mocked service (httpx
MockTransport behind the real clients): connections, sync and deferrable calls, error mapping."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred
from pesto_factory.adapters.airflow import get_provider_info
from pesto_factory.adapters.airflow.hooks.pesto import PestoHook
from pesto_factory.adapters.airflow.operators.pesto import PestoProcessOperator, plain
from pesto_factory.adapters.airflow.triggers.pesto import PestoJobTrigger
from pesto_factory.adapters.client import AsyncServiceClient, ServiceClient

from tests.conftest import free_port

BASE = "http://svc:8080"


class FakeService:
    """A geoprocessing API in memory: records requests, answers per a few switches. Jobs are
    numbered j1, j2, ...; each status poll of a job takes the next of `job_states` (the last
    one sticks); `status_errors` answers that many polls with 503 first."""

    def __init__(self, *, process_status: int = 200, job_states: tuple[str, ...] = ("SUCCEEDED",),
                 message: str = "bad tile") -> None:
        self.requests: list[httpx.Request] = []
        self.process_status = process_status
        self.job_states = list(job_states)
        self.message = message
        self.list_values = False
        self.busy = 0  # answer this many process/submit calls 503 + Retry-After first
        self.retry_after = "0"
        self.status_errors = 0
        self.jobs: dict[str, dict] = {}
        self.polls: dict[str, int] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/api/v1")
        if path in ("/process", "/jobs") and self.busy:
            self.busy -= 1
            return httpx.Response(503, json={"message": "queue full"},
                                  headers={"Retry-After": self.retry_after})
        if path == "/health":
            return httpx.Response(200, text="OK")
        if path == "/describe":
            return httpx.Response(200, json={"name": "svc", "version": "1.0.0"})
        if path == "/process":
            if self.process_status != 200:
                return httpx.Response(self.process_status, json={"message": self.message})
            return httpx.Response(200, json={"mask": "file:///out/m.tif", "echo": _body(request)})
        if path == "/jobs":
            job_id = f"j{len(self.jobs) + 1}"
            self.jobs[job_id] = _body(request)
            return httpx.Response(201, json=self._status(job_id),
                                  headers={"Location": f"{BASE}/api/v1/jobs/{job_id}/status"})
        match = re.fullmatch(r"/jobs/(\w+)(/status|/results(?:/(\w+))?)?", path)
        if match is None:
            return httpx.Response(404, json={"message": f"no route {path}"})
        job_id, rest, result = match.groups()
        if request.method == "DELETE":
            return httpx.Response(204)
        if rest == "/status":
            if self.status_errors:
                self.status_errors -= 1
                return httpx.Response(503, json={"message": "restarting"})
            poll = self.polls[job_id] = self.polls.get(job_id, -1) + 1
            state = self.job_states[min(poll, len(self.job_states) - 1)]
            return httpx.Response(200, json=self._status(job_id, state))
        if result == "fraction":
            return httpx.Response(200, json=0.25)
        listing = [
            {"id": "fraction", "_link": {"href": f"{BASE}/api/v1/jobs/{job_id}/results/fraction",
                                         "type": "application/json"}},
            {"id": "mask", "_link": {"href": f"{BASE}/api/v1/jobs/{job_id}/results/mask",
                                     "type": "image/tiff"}}]
        if self.list_values:
            listing[0]["value"] = 0.25
            listing[1]["value"] = f"file:///out/{self.jobs.get(job_id, {}).get('x', 'mask')}.tif"
        return httpx.Response(200, json=listing)

    def _status(self, job_id: str, state: str = "ACCEPTED") -> dict:
        body = {"jobId": job_id, "status": state}
        if state in ("FAILED", "CANCELLED"):
            body["message"] = self.message
        return body

    def paths(self, method: str | None = None) -> list[str]:
        return [r.url.path for r in self.requests if method in (None, r.method)]


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


def test_the_provider_info_is_complete_and_valid():
    import jsonschema
    from airflow import __file__ as airflow_init

    schema = json.loads((Path(airflow_init).parent / "provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validate(info, schema)
    modules = {kind: info[kind][0]["python-modules"] for kind in ("hooks", "operators", "triggers")}
    assert modules == {kind: [f"pesto_factory.adapters.airflow.{kind}.pesto"]
                       for kind in ("hooks", "operators", "triggers")}
    assert info["extra-links"] == ["pesto_factory.adapters.airflow.operators.pesto.PestoJobLink"]
    [pesto] = info["connection-types"]
    assert pesto["hook-class-name"] == "pesto_factory.adapters.airflow.hooks.pesto.PestoHook"
    assert sorted(pesto["conn-fields"]) == ["process_timeout", "timeout"]
    assert PestoHook.get_ui_field_behaviour()["hidden_fields"] == ["login", "extra"]
    assert PestoHook.conn_type == "pesto"


def test_the_connection_extras_set_the_client_limits(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PESTO_TEST", json.dumps(
        {"conn_type": "pesto", "host": "svc", "extra": {"timeout": 5, "process_timeout": 60}}))
    with PestoHook("pesto_test").get_conn() as client:
        assert (client._calls.timeout, client._calls.process_timeout) == (5.0, 60.0)
    with PestoHook("pesto_test", timeout=None).get_conn() as client:
        assert client._calls.timeout is None


def test_test_connection_reports_the_service_or_why_not(service, monkeypatch):
    assert PestoHook("c").test_connection() == (True, f"svc 1.0.0 at {BASE}/api/v1: OK")
    monkeypatch.undo()  # the real clients again
    monkeypatch.setenv("AIRFLOW_CONN_PESTO_NOWHERE", json.dumps(
        {"conn_type": "pesto", "host": "127.0.0.1", "port": free_port()}))
    ok, message = PestoHook("pesto_nowhere").test_connection()
    assert not ok and "127.0.0.1" in message
    assert PestoHook("pesto_undefined").test_connection()[0] is False


def test_the_constructor_stores_its_arguments_unchanged():
    inputs = {"tile": "{{ params.tile }}"}
    op = PestoProcessOperator(task_id="t", inputs=inputs, pesto_conn_id="c", deferrable=True,
                              poll_interval=0.5, job_timeout=60)
    assert op.inputs is inputs
    assert (op.pesto_conn_id, op.deferrable, op.poll_interval, op.job_timeout) == (
        "c", True, 0.5, 60)
    assert set(op.template_fields) == {"inputs", "pesto_conn_id", "batch"}
    with pytest.raises(TypeError):
        PestoProcessOperator("t")  # keyword-only


def test_deferrable_defaults_to_the_operators_option(monkeypatch):
    assert PestoProcessOperator(task_id="t").deferrable is False
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    assert PestoProcessOperator(task_id="t").deferrable is True
    assert PestoProcessOperator(task_id="t", deferrable=False).deferrable is False


def test_sync_execute_returns_the_outputs(service):
    op = PestoProcessOperator(task_id="t", inputs={"tile": {"href": "file:///a.tif"},
                                                   "skip": None})
    outputs = op.execute({})
    assert outputs == {"mask": "file:///out/m.tif", "echo": {"tile": {"href": "file:///a.tif"}}}
    assert service.requests[0].headers["Authorization"] == "Bearer secret-token"


@pytest.mark.parametrize(("status", "error"), [(400, AirflowFailException),
                                               (422, AirflowFailException),
                                               (501, AirflowFailException),
                                               (429, AirflowException),
                                               (500, AirflowException),
                                               (502, AirflowException)])
def test_client_mistakes_fail_and_passing_conditions_retry(service, status, error):
    service.process_status = status
    with pytest.raises(error, match="bad tile") as caught:
        PestoProcessOperator(task_id="t", inputs={}, busy_timeout=0).execute({})
    assert type(caught.value) is error


def test_a_busy_service_is_asked_again_after_its_retry_after(service, capsys):
    service.busy, service.retry_after = 2, "0"
    assert PestoProcessOperator(task_id="t", inputs={"x": 1}).execute({})["echo"] == {"x": 1}
    assert service.paths() == ["/api/v1/process"] * 3
    assert capsys.readouterr().out.count("is busy (503); asking again in 0.0 s") == 2


def test_a_service_busy_past_busy_timeout_raises_a_retried_failure(service):
    service.busy, service.retry_after = 5, "2"
    with pytest.raises(AirflowException, match="queue full") as caught:
        PestoProcessOperator(task_id="t", inputs={}, busy_timeout=1).execute({})
    assert type(caught.value) is AirflowException
    assert service.paths() == ["/api/v1/process"]  # 2 s asked for, 1 s allowed: no wait


def test_an_unreachable_service_raises_a_retried_failure(monkeypatch):
    port = free_port()
    monkeypatch.setenv("AIRFLOW_CONN_PESTO_DOWN", json.dumps(
        {"conn_type": "pesto", "host": "127.0.0.1", "port": port}))
    with pytest.raises(AirflowException) as caught:
        PestoProcessOperator(task_id="t", pesto_conn_id="pesto_down", busy_timeout=0).execute({})
    assert type(caught.value) is AirflowException
    assert f"127.0.0.1:{port}" in str(caught.value)


def test_a_sync_batch_makes_one_call_per_element_in_order(service):
    op = PestoProcessOperator(task_id="t", inputs={"margin": 4, "x": 0},
                              batch=[{"x": n} for n in range(7)], max_parallel=3)
    outputs = op.execute({})
    assert [out["echo"] for out in outputs] == [{"margin": 4, "x": n} for n in range(7)]
    assert len(service.paths()) == 7


def test_a_batch_that_is_not_a_list_of_objects_fails(service):
    with pytest.raises(AirflowFailException, match="batch must be a list"):
        PestoProcessOperator(task_id="t", batch=["a"]).execute({})


def test_deferrable_execute_submits_and_defers_to_the_trigger(service):
    op = PestoProcessOperator(task_id="t", inputs={"x": 1}, pesto_conn_id="c",
                              deferrable=True, poll_interval=0.5, job_timeout=30)
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({})
    assert deferred.value.method_name == "execute_complete"
    path, kwargs = deferred.value.trigger.serialize()
    assert path == "pesto_factory.adapters.airflow.triggers.pesto.PestoJobTrigger"
    deadline = kwargs.pop("deadline")
    assert before + 30 <= deadline <= time.time() + 30  # absolute: survives a restart
    assert kwargs.pop("carry")["done"] == []
    assert kwargs == {"pesto_conn_id": "c", "job_ids": ["j1"], "poll_interval": 0.5,
                      "max_poll_interval": 30.0, "max_poll_errors": 10}
    assert service.paths() == ["/api/v1/jobs"]
    assert _body(service.requests[0]) == {"x": 1}


def test_a_deferred_batch_runs_in_windows_of_max_parallel_jobs(service):
    service.list_values = True
    op = PestoProcessOperator(task_id="t", deferrable=True, max_parallel=2,
                              batch=[{"x": f"t{n}"} for n in range(3)])
    with pytest.raises(TaskDeferred) as first:
        op.execute({})
    assert first.value.trigger.job_ids == ["j1", "j2"]
    event = {"status": "success", "job_ids": ["j1", "j2"], "job_id": "j1", "message": "ok",
             "carry": first.value.trigger.carry}
    with pytest.raises(TaskDeferred) as second:
        op.execute_complete({}, event)
    assert second.value.trigger.job_ids == ["j3"]
    carry = second.value.trigger.carry
    assert len(carry["done"]) == 2 and carry["began"] == first.value.trigger.carry["began"]
    outputs = op.execute_complete({}, {"status": "success", "job_ids": ["j3"], "carry": carry})
    assert [out["mask"] for out in outputs] == [f"file:///out/t{n}.tif" for n in range(3)]


def test_execute_complete_returns_references(service):
    op = PestoProcessOperator(task_id="t", deferrable=True)
    outputs = op.execute_complete({}, {"status": "success", "job_id": "j1", "message": "ok"})
    assert outputs == {"fraction": 0.25, "mask": f"{BASE}/api/v1/jobs/j1/results/mask"}
    assert "/api/v1/jobs/j1/results/mask" not in service.paths()


def test_execute_complete_takes_the_listed_values_as_a_sync_call_gives_them(service):
    service.list_values = True  # a PESTO runtime lists each output's value (file:// for images)
    op = PestoProcessOperator(task_id="t", deferrable=True)
    outputs = op.execute_complete({}, {"status": "success", "job_id": "j1", "message": "ok"})
    assert outputs == {"fraction": 0.25, "mask": "file:///out/mask.tif"}
    assert service.paths() == ["/api/v1/jobs/j1/results"]


@pytest.mark.parametrize(("retryable", "error"), [(False, AirflowFailException),
                                                  (True, AirflowException)])
def test_execute_complete_fails_on_an_error_event(retryable, error):
    op = PestoProcessOperator(task_id="t")
    event = {"status": "error", "job_id": "j1", "message": "boom", "retryable": retryable}
    with pytest.raises(error, match="job j1 failed: boom") as caught:
        op.execute_complete({}, event)
    assert type(caught.value) is error


def test_on_kill_cancels_the_jobs_the_task_submitted(service):
    op = PestoProcessOperator(task_id="t", deferrable=True, batch=[{}, {}])
    with pytest.raises(TaskDeferred):
        op.execute({})
    op.on_kill()
    assert service.paths("DELETE") == ["/api/v1/jobs/j1", "/api/v1/jobs/j2"]


def _events(trigger: PestoJobTrigger) -> list[dict]:
    async def collect():
        return [event.payload async for event in trigger.run()]
    return asyncio.run(collect())


def test_the_trigger_polls_until_success(service):
    service.job_states = ["ACCEPTED", "RUNNING", "SUCCEEDED"]
    trigger = PestoJobTrigger(pesto_conn_id="c", job_id="j1", poll_interval=0.01)
    assert _events(trigger) == [{"status": "success", "job_ids": ["j1"], "job_id": "j1",
                                 "message": "1 job(s) SUCCEEDED", "carry": {}}]
    assert service.paths() == ["/api/v1/jobs/j1/status"] * 3


def test_the_trigger_waits_for_every_job_of_a_window(service):
    service.job_states = ["RUNNING", "SUCCEEDED"]
    trigger = PestoJobTrigger(pesto_conn_id="c", job_ids=["j1", "j2"], poll_interval=0.01)
    [event] = _events(trigger)
    assert event["status"] == "success" and event["job_ids"] == ["j1", "j2"]
    assert sorted(service.paths()) == (["/api/v1/jobs/j1/status"] * 2
                                       + ["/api/v1/jobs/j2/status"] * 2)


@pytest.mark.parametrize(("state", "retryable"), [("FAILED", True), ("CANCELLED", False)])
def test_the_trigger_reports_a_finished_unsuccessful_job(service, state, retryable):
    service.job_states, service.message = ["RUNNING", state], "interrupted: the service stopped"
    trigger = PestoJobTrigger(pesto_conn_id="c", job_id="j1", poll_interval=0.01)
    assert _events(trigger) == [{
        "status": "error", "job_ids": ["j1"], "job_id": "j1", "retryable": retryable,
        "message": f"job j1 {state}: interrupted: the service stopped", "carry": {}}]


def test_the_trigger_tolerates_a_few_failed_polls(service, caplog):
    service.status_errors, service.job_states = 3, ["SUCCEEDED"]
    trigger = PestoJobTrigger(pesto_conn_id="c", job_id="j1", poll_interval=0.01)
    assert _events(trigger)[0]["status"] == "success"
    assert caplog.text.count("tolerated") == 3


def test_the_trigger_gives_up_after_max_poll_errors_in_a_row(service):
    service.status_errors = 10
    trigger = PestoJobTrigger(pesto_conn_id="c", job_id="j1", poll_interval=0.01,
                              max_poll_errors=2)
    [event] = _events(trigger)
    assert event["retryable"] is True and "polling failed (3 in a row)" in event["message"]


def test_a_job_the_service_forgot_is_retried(service):
    trigger = PestoJobTrigger(pesto_conn_id="c", job_id="gone/x", poll_interval=0.01)
    [event] = _events(trigger)
    assert event["status"] == "error" and event["retryable"] is True


def test_the_trigger_deadline_is_absolute_and_cancels_the_job(service):
    service.job_states = ["RUNNING"]
    trigger = PestoJobTrigger(pesto_conn_id="c", job_id="j1", poll_interval=0.01, timeout=0.05)
    kwargs = trigger.serialize()[1]
    assert PestoJobTrigger(**kwargs).deadline == kwargs["deadline"] == trigger.deadline
    [event] = _events(PestoJobTrigger(**kwargs))  # a triggerer restart: same deadline
    assert event["status"] == "error" and "did not finish by the deadline" in event["message"]
    assert event["retryable"] is True
    assert service.paths("DELETE") == ["/api/v1/jobs/j1"]


def test_the_trigger_on_kill_cancels_the_unfinished_jobs(service):
    trigger = PestoJobTrigger(pesto_conn_id="c", job_ids=["j1", "j2"])
    trigger._pending = ["j2"]  # j1 already succeeded: its results are kept
    asyncio.run(trigger.on_kill())
    assert service.paths("DELETE") == ["/api/v1/jobs/j2"]


def test_the_trigger_serializes_json_primitives_only():
    trigger = PestoJobTrigger(pesto_conn_id="pesto_merge", job_id="abc", poll_interval=2.0,
                              carry={"done": [{"mask": "file:///m.tif"}], "began": 1.5})
    path, kwargs = trigger.serialize()
    assert path == "pesto_factory.adapters.airflow.triggers.pesto.PestoJobTrigger"
    assert kwargs == {"pesto_conn_id": "pesto_merge", "job_ids": ["abc"], "poll_interval": 2.0,
                      "max_poll_interval": 30.0, "deadline": None, "max_poll_errors": 10,
                      "carry": {"done": [{"mask": "file:///m.tif"}], "began": 1.5}}
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert PestoJobTrigger(**kwargs).serialize() == (path, kwargs)


def test_plain_reads_a_lazy_sequence_in_one_slice():
    class Lazy(Sequence):
        reads: list = []

        def __len__(self):
            return 3

        def __getitem__(self, key):
            self.reads.append(key)
            return [1, 2, 3][key]

    assert plain({"tiles": Lazy()}) == {"tiles": [1, 2, 3]}
    assert Lazy.reads == [slice(None)]


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


@pytest.mark.slow
def test_the_airflow_cli_lists_the_trigger_hook_and_link(tmp_path):
    import os
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env["AIRFLOW_HOME"] = str(tmp_path)
    found = {}
    for command in ("triggers", "hooks", "links"):
        done = subprocess.run([sys.executable, "-m", "airflow", "providers", command, "-o",
                               "json"], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        listed = json.loads(done.stdout[done.stdout.index("["):])
        found[command] = [row for row in listed if "pesto" in json.dumps(row)]
    assert found["triggers"] == [{"package_name": "pesto-factory", "integration_name": "PESTO",
                                  "class": "pesto_factory.adapters.airflow.triggers.pesto"}]
    assert [row["connection_type"] for row in found["hooks"]] == ["pesto"]
    assert found["links"] == [{"extra_link_class_name":
                               "pesto_factory.adapters.airflow.operators.pesto.PestoJobLink"}]
