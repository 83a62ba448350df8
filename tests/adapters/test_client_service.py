"""The REST client against a real service (uvicorn on 127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pesto_factory.adapters.client import (
    ClientError,
    JobFailed,
    JobStatus,
    ServerError,
    ServiceClient,
    ServiceUnreachable,
)

from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
MISBEHAVING = REPO / "tests" / "runtime" / "services" / "misbehaving"

pytestmark = pytest.mark.slow


@pytest.fixture
def client(service_factory, tmp_path):
    service = service_factory(MISBEHAVING, env={"PESTO_WORKERS": "1",
                                                "PESTO_API_TOKEN": "t0ken"})
    with ServiceClient(service.url, token="t0ken", timeout=30) as client:
        yield client


def test_health_describe_and_sync_process(client):
    assert client.health() == "OK"
    document = client.describe()
    assert document["name"] == "pesto/misbehaving"
    assert client.process({"mode": "ok"})["mode"] == "ok"


def test_async_job_submit_wait_results(client, tmp_path):
    job = client.submit({"mode": "progress"})
    assert job.href.endswith(f"/api/v1/jobs/{job.id}/status")
    seen: list[JobStatus] = []
    state = client.wait(job, poll_interval=0.05, timeout=60,
                        on_status=lambda s: seen.append(s.status))
    assert state.status is JobStatus.SUCCEEDED and seen[-1] is JobStatus.SUCCEEDED
    links = client.results(job)
    assert set(links) == {"mode", "pid"}
    assert client.result(job, "mode") == "progress"
    assert isinstance(client.result(job, "pid"), int)
    client.cancel(job)  # forgets the finished job
    with pytest.raises(ClientError) as caught:
        client.status(job)
    assert caught.value.status_code == 404 and caught.value.correlation_id


def test_service_errors_carry_the_error_body(client):
    with pytest.raises(ClientError) as caught:
        client.process({"mode": "sideways"})
    assert caught.value.status_code == 400 and not caught.value.retryable
    assert "mode" in caught.value.service_message
    with pytest.raises(ServerError) as caught:
        client.process({"mode": "raise"})
    assert caught.value.status_code == 500
    assert "bad pixel values" in caught.value.service_message
    job = client.submit({"mode": "raise"})
    with pytest.raises(JobFailed, match="bad pixel values") as failed:
        client.wait(job, poll_interval=0.05, timeout=60)
    assert failed.value.status == "FAILED"
    with pytest.raises(ClientError) as caught:
        client.results(job)
    assert caught.value.status_code == 409


def test_a_wrong_token_and_a_closed_port(client, service_factory):
    with ServiceClient(client.base_url, token="wrong") as intruder, \
            pytest.raises(ClientError) as caught:
        intruder.describe()
    assert caught.value.status_code == 401
    with ServiceClient(f"http://127.0.0.1:{free_port()}") as nobody, \
            pytest.raises(ServiceUnreachable) as caught:
        nobody.health()
    assert caught.value.retryable and caught.value.status_code is None
