"""A service whose PESTO_OUTPUT_ROOT is s3://: outputs uploaded whole, served back from the
store, removed with their job, and nothing left by a job that failed; no secret anywhere."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pesto_factory.runtime.imageio.objectstore import ObjectLocation, upload
from pesto_factory.runtime.imageio.writing import write_image
from rasterio.transform import from_origin

from tests.conftest import RunningService, start_service, wait_until
from tests.storage.conftest import BUCKET, aws_environment

PAIR = Path(__file__).parent / "services" / "pair"


@pytest.fixture(scope="module")
def module_prefix() -> str:
    return f"m-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def scene(seaweed, module_prefix, tmp_path_factory) -> tuple[str, np.ndarray, Path]:
    """A small georeferenced scene uploaded to the store, and its local file."""
    data = np.random.default_rng(3).integers(1, 3000, (3, 200, 240), dtype=np.uint16)
    from pesto_factory.runtime.geoimage import GeoImage

    path = write_image(GeoImage(data, crs="EPSG:32631", transform=from_origin(6e5, 5e6, 10, 10)),
                       tmp_path_factory.mktemp("scene") / "scene.tif")
    target = ObjectLocation("s3", BUCKET, f"{module_prefix}/in/scene.tif")
    with aws_environment(seaweed.env("writer")):
        upload(path, target)
    return target.uri, data, path


@pytest.fixture(scope="module")
def pair(seaweed, module_prefix, tmp_path_factory) -> RunningService:
    """The test service: writer credentials, outputs under s3://pesto/<prefix>/out, inputs
    only from the bucket `pesto` and no local folder at all."""
    state = tmp_path_factory.mktemp("pair-state")
    service = start_service(PAIR, state, env={
        **seaweed.env("writer"), "PESTO_OUTPUT_ROOT": f"s3://{BUCKET}/{module_prefix}/out",
        "PESTO_REMOTE_HOSTS": BUCKET, "PESTO_INPUT_ROOTS": ""})
    yield service
    service.stop(kill=True)


def test_sync_outputs_are_objects(pair, seaweed, scene, module_prefix, s3_env):
    uri, data, _ = scene
    with pair.client() as client:
        response = client.post("/process", json={"image": uri})
    assert response.status_code == 200, response.text
    outputs = response.json()
    prefix = f"s3://{BUCKET}/{module_prefix}/out/sync/"
    assert outputs["copy"].startswith(prefix) and outputs["copy"].endswith("/copy.tif")
    assert outputs["quicklook"].endswith("/quicklook.png")
    key = ObjectLocation.parse(outputs["copy"]).key
    assert key in seaweed.keys(BUCKET, f"{module_prefix}/out/sync")
    with rasterio.open(ObjectLocation.parse(outputs["copy"]).vsi) as src:
        assert (src.read() == data).all() and src.crs.to_epsg() == 32631
    staged = Path(pair.env["PESTO_STATE_DIR"]) / "outputs"
    assert not [p for p in staged.rglob("*") if p.is_file()]  # nothing kept locally


def test_async_result_streams_from_the_store_and_delete_removes_it(pair, seaweed, scene,
                                                                   module_prefix, s3_env):
    job_id = _run_job(pair, {"image": scene[0]})
    job_prefix = f"{module_prefix}/out/{job_id}"
    assert seaweed.keys(BUCKET, job_prefix) == [f"{job_prefix}/copy.tif",
                                                f"{job_prefix}/quicklook.png"]
    with pair.client() as client:
        results = {r["id"]: r for r in client.get(f"/jobs/{job_id}/results").json()}
        assert results["copy"]["value"] == f"s3://{BUCKET}/{job_prefix}/copy.tif"
        image = client.get(f"/jobs/{job_id}/results/copy")
        assert image.status_code == 200 and image.headers["content-type"].startswith("image/tiff")
        stored = b"".join(_chunks(ObjectLocation("s3", BUCKET, f"{job_prefix}/copy.tif")))
        assert image.content == stored
        assert client.delete(f"/jobs/{job_id}").status_code == 204
    wait_until(lambda: seaweed.keys(BUCKET, job_prefix) == [], timeout=30,
               what="the job's objects to be deleted")


def test_a_result_removed_from_the_store_is_404(pair, scene, s3_env):
    from pesto_factory.runtime.imageio.objectstore import delete_object

    job_id = _run_job(pair, {"image": scene[0]})
    with pair.client() as client:
        copy = {r["id"]: r["value"] for r in client.get(f"/jobs/{job_id}/results").json()}["copy"]
        assert delete_object(ObjectLocation.parse(copy))
        response = client.get(f"/jobs/{job_id}/results/copy")
    assert response.status_code == 404 and copy in response.json()["message"]


def test_a_failed_job_leaves_no_object(pair, seaweed, scene, module_prefix):
    job_id = _run_job(pair, {"image": scene[0], "mode": "broken"}, expect="FAILED")
    # the copy was uploaded before the quicklook broke the schema: it is gone again
    assert seaweed.keys(BUCKET, f"{module_prefix}/out/{job_id}") == []


def test_a_cancelled_job_leaves_no_object(pair, seaweed, scene, module_prefix, tmp_path):
    gate = tmp_path / "gate"  # never opened: the job waits until it is cancelled
    with pair.client() as client:
        job_id = client.post("/jobs", json={"image": scene[0], "gate": str(gate)}).json()["jobId"]
        wait_until(lambda: client.get(f"/jobs/{job_id}/status").json()["status"] == "RUNNING",
                   timeout=60, what="the job to run")
        assert client.delete(f"/jobs/{job_id}").status_code == 204
        assert client.get(f"/jobs/{job_id}/status").json()["status"] == "CANCELLED"
    assert seaweed.keys(BUCKET, f"{module_prefix}/out/{job_id}") == []


def test_a_bucket_outside_remote_hosts_is_refused(pair):
    with pair.client() as client:
        response = client.post("/process", json={"image": "s3://elsewhere/scene.tif"})
    assert response.status_code == 403 and "elsewhere" in response.json()["message"]


def test_a_missing_object_is_422_naming_the_key(pair, module_prefix):
    with pair.client() as client:
        response = client.post(
            "/process", json={"image": f"s3://{BUCKET}/{module_prefix}/in/nothing.tif"})
    assert response.status_code == 422, response.text
    assert f"'{module_prefix}/in/nothing.tif'" in response.json()["message"]


def test_no_secret_in_describe_logs_errors_or_job_records(pair, seaweed, scene, module_prefix):
    secret = seaweed.secret("writer")
    bodies = []
    with pair.client() as client:
        bodies.append(client.get("/describe").text)
        bodies.append(client.post("/process", json={
            "image": f"s3://{BUCKET}/{module_prefix}/in/nothing.tif"}).text)
        bodies.append(client.get("/config").text)
    _run_job(pair, {"image": scene[0], "mode": "broken"}, expect="FAILED")
    database = Path(pair.env["PESTO_STATE_DIR"]) / "jobs.sqlite"
    with sqlite3.connect(database) as db:
        records = repr(db.execute("SELECT * FROM jobs").fetchall())
    for text in [*bodies, records, pair.log_text()]:
        assert secret not in text


def _run_job(service: RunningService, payload: dict, *, expect: str = "SUCCEEDED") -> str:
    with service.client() as client:
        response = client.post("/jobs", json=payload)
        assert response.status_code == 201, response.text
        job_id = response.json()["jobId"]

        def finished():
            status = client.get(f"/jobs/{job_id}/status").json()
            return status if status["status"] not in ("ACCEPTED", "RUNNING") else None

        status = wait_until(finished, timeout=60, what=f"job {job_id}")
    assert status["status"] == expect, status
    return job_id


def _chunks(location: ObjectLocation):
    from pesto_factory.runtime.imageio.objectstore import iter_object

    return iter_object(location)
