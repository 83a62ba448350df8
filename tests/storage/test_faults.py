"""Faults on the data plane, through a running service: each a clear error naming the endpoint,
bucket or key, with the right status (never a 500), and the job FAILED, retryable when the
store was only out of reach."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
from pesto_factory.adapters.client import JobFailed, ServiceClient
from pesto_factory.runtime.imageio.objectstore import ObjectLocation, upload
from pesto_factory.runtime.imageio.writing import write_image

from tests.conftest import free_port, start_service
from tests.storage.conftest import BUCKET
from tests.storage.test_outputs import PAIR, _run_job


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_image(np.arange(2 * 32 * 32, dtype=np.uint16).reshape(2, 32, 32),
                       tmp_path / "tiny.tif")


def _service(tmp_path: Path, env: dict[str, str], output_root: str):
    return start_service(PAIR, tmp_path / "state", env={**env, "PESTO_OUTPUT_ROOT": output_root})


def test_unreachable_store_fails_the_job_naming_the_endpoint_retryable(tmp_path, seaweed, tiny):
    dead = f"127.0.0.1:{free_port()}"
    service = _service(tmp_path, {**seaweed.env(), "AWS_S3_ENDPOINT": dead}, f"s3://{BUCKET}/x")
    try:
        inline = base64.b64encode(tiny.read_bytes()).decode()
        job_id = _run_job(service, {"image": inline}, expect="FAILED")
        with ServiceClient(service.url) as client:
            state = client.status(job_id)
            assert dead in state.message and state.retryable
            with pytest.raises(JobFailed) as caught:
                client.wait(job_id, poll_interval=0.05)
            assert caught.value.retryable
        with service.client() as http:
            response = http.post("/process", json={"image": inline})
        assert response.status_code == 503 and dead in response.json()["message"]
    finally:
        service.stop(kill=True)


def test_access_denied_is_403_naming_the_bucket(tmp_path, seaweed, s3_env, prefix, tiny):
    scene = ObjectLocation("s3", BUCKET, f"{prefix}/tiny.tif")
    upload(tiny, scene)
    stranger = _service(tmp_path / "stranger", seaweed.env("stranger"), f"s3://{BUCKET}/{prefix}")
    reader = _service(tmp_path / "reader", seaweed.env("reader"), f"s3://{BUCKET}/{prefix}/out")
    try:
        with stranger.client() as http:  # may not read the bucket
            response = http.post("/process", json={"image": scene.uri})
        assert response.status_code == 403, response.text
        assert f"bucket '{BUCKET}'" in response.json()["message"]
        with reader.client() as http:  # reads the input, may not write its outputs
            response = http.post("/process", json={"image": scene.uri})
        assert response.status_code == 403, response.text
        assert f"may not write to bucket '{BUCKET}'" in response.json()["message"]
        assert seaweed.keys(BUCKET, f"{prefix}/out") == []
    finally:
        stranger.stop(kill=True)
        reader.stop(kill=True)


def test_a_missing_bucket_is_named(tmp_path, seaweed, s3_env, prefix, tiny):
    scene = ObjectLocation("s3", BUCKET, f"{prefix}/tiny.tif")
    upload(tiny, scene)
    service = _service(tmp_path, seaweed.env(), "s3://no-such-bucket/out")
    try:
        with service.client() as http:
            reading = http.post("/process", json={"image": "s3://no-such-bucket/in/a.tif"})
            writing = http.post("/process", json={"image": scene.uri})
        for response in (reading, writing):
            assert response.status_code == 422, response.text
            assert "bucket 'no-such-bucket' does not exist" in response.json()["message"]
    finally:
        service.stop(kill=True)
