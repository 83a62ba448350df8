"""The Airflow hook's connection handling against real Airflow connections and a real service.

Connections are Airflow's own (`airflow.sdk.Connection`, exported as `AIRFLOW_CONN_*` in both
of Airflow's forms: URI and JSON); the service is a real `pesto-runtime serve` that demands a
bearer token. So the token and the timeouts are seen to reach the client the operator builds
and the trigger it defers to, with no part of the hook replaced.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from airflow.sdk import Connection
from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred
from pesto_factory.adapters.airflow.operators.pesto import PestoProcessOperator
from pesto_factory.adapters.airflow.triggers.pesto import PestoJobTrigger

from tests.conftest import RunningService, start_service
from tests.runtime.conftest import MISBEHAVING

pytestmark = pytest.mark.slow
TOKEN = "conn-token-7f3a"
CONN_ID = "pesto_misbehaving"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    running = start_service(MISBEHAVING, tmp_path_factory.mktemp("state"),
                            env={"PESTO_API_TOKEN": TOKEN, "PESTO_WORKERS": "2"})
    yield running
    running.stop(kill=True)


def _connect(monkeypatch: pytest.MonkeyPatch, service: RunningService, *, token: str = TOKEN,
             form: str = "uri") -> None:
    """Export the service's connection as Airflow reads it from the environment."""
    port = int(service.url.rsplit(":", 1)[1])
    conn = Connection(conn_id=CONN_ID, conn_type="http", host="127.0.0.1", port=port,
                      password=token)
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}",
                       conn.get_uri() if form == "uri" else conn.as_json())


def _events(trigger: PestoJobTrigger) -> list[dict]:
    async def collect() -> list[dict]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(collect())


@pytest.mark.parametrize("form", ["uri", "json"])
def test_a_sync_call_sends_the_connections_token(service, monkeypatch, form):
    _connect(monkeypatch, service, form=form)
    operator = PestoProcessOperator(task_id="call", pesto_conn_id=CONN_ID, inputs={"mode": "ok"})
    assert operator.execute({})["mode"] == "ok"


def test_a_wrong_token_in_the_connection_fails_the_task(service, monkeypatch):
    _connect(monkeypatch, service, token="not-the-token")
    operator = PestoProcessOperator(task_id="call", pesto_conn_id=CONN_ID, inputs={"mode": "ok"})
    with pytest.raises(AirflowFailException, match="401"):
        operator.execute({})


def test_the_operators_process_timeout_reaches_the_client(service, monkeypatch, tmp_path):
    """The job waits on a gate the test opens only afterwards: the call can only end by the
    client's own read timeout, the operator's process_timeout."""
    _connect(monkeypatch, service)
    gate = tmp_path / "gate"
    operator = PestoProcessOperator(task_id="call", pesto_conn_id=CONN_ID, process_timeout=0.5,
                                    inputs={"mode": "ok", "gate": str(gate)})
    try:
        with pytest.raises(AirflowException, match=r"/process: timed out \(ReadTimeout\)"):
            operator.execute({})
    finally:
        gate.touch()  # frees the worker


def test_a_deferred_trigger_polls_with_the_connections_token(service, monkeypatch):
    _connect(monkeypatch, service)
    operator = PestoProcessOperator(task_id="call", pesto_conn_id=CONN_ID, deferrable=True,
                                    poll_interval=0.05, inputs={"mode": "ok"})
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute({})
    trigger = deferred.value.trigger
    path, kwargs = trigger.serialize()  # what the triggerer rebuilds it from
    trigger = PestoJobTrigger(**kwargs)
    [event] = _events(trigger)
    assert event["status"] == "success", event
    assert operator.execute_complete({}, event)["mode"] == "ok"

    _connect(monkeypatch, service, token="not-the-token")  # the trigger reads the connection
    [event] = _events(PestoJobTrigger(**kwargs))
    assert event["status"] == "error" and "401" in event["message"]
    assert event["retryable"] is False


def test_the_operators_job_timeout_reaches_the_trigger(service, monkeypatch, tmp_path):
    _connect(monkeypatch, service)
    gate = tmp_path / "gate"
    operator = PestoProcessOperator(task_id="call", pesto_conn_id=CONN_ID, deferrable=True,
                                    poll_interval=0.05, job_timeout=0.3,
                                    inputs={"mode": "ok", "gate": str(gate)})
    try:
        asked = time.time()
        with pytest.raises(TaskDeferred) as deferred:
            operator.execute({})
        _, kwargs = deferred.value.trigger.serialize()
        # an absolute deadline (a triggerer restart does not restart it), job_timeout from now
        assert asked + 0.3 <= kwargs["deadline"] <= time.time() + 0.3
        [event] = _events(PestoJobTrigger(**kwargs))
        assert event["status"] == "error" and "did not finish by the deadline" in event["message"], event
    finally:
        gate.touch()
