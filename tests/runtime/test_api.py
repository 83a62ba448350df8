"""The service over a real uvicorn on 127.0.0.1: every endpoint, sync and async, errors, auth."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import urlparse

import jsonschema
import numpy as np
import pytest
import rasterio
import yaml

from tests.conftest import wait_until
from tests.runtime.conftest import NDVI, write_scene

SPEC = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "runtime/openapi/api_geo_process.yaml").read_text())


def spec_validator(component: str) -> jsonschema.Draft4Validator:
    """A validator for one schema of the geoprocessing spec (its $refs resolved in the spec)."""
    return jsonschema.Draft4Validator({**SPEC, "$ref": f"#/components/schemas/{component}"})


def assert_error(response, status: int, *, contains: str = "") -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    spec_validator("Error").validate(body)
    assert set(body) == {"message", "hint", "correlationId", "timestamp"}
    assert "Traceback" not in response.text and "File \"" not in response.text
    assert contains in body["message"], body
    return body


@pytest.fixture(scope="module")
def ndvi(tmp_path_factory):
    """One NDVI service for the module, reading inputs only under its input root."""
    from tests.conftest import start_service

    root = tmp_path_factory.mktemp("ndvi")
    (root / "inputs").mkdir()
    service = start_service(NDVI, root / "state", env={
        "PESTO_INPUT_ROOTS": str(root / "inputs"), "PESTO_MAX_BODY_BYTES": str(2 * 1024 * 1024),
        "PESTO_WORKERS": "1"})
    service.root = root
    yield service
    service.stop()


@pytest.fixture
def client(ndvi):
    with ndvi.client() as http:
        yield http


@pytest.fixture
def scene_uri(ndvi) -> str:
    path = ndvi.root / "inputs" / "scene.tif"
    if not path.exists():
        write_scene(path)
    return path.as_uri()


def expected_ndvi(path: str) -> np.ndarray:
    with rasterio.open(path) as src:
        red, nir = src.read(3).astype(np.float32), src.read(4).astype(np.float32)
    return (nir - red) / np.maximum(nir + red, np.float32(1e-6))


def test_health_is_plain_ok(client) -> None:
    response = client.get("/health")
    assert response.status_code == 200 and response.text == "OK"


def test_describe_follows_the_spec_and_links_to_the_requested_host(client, ndvi) -> None:
    response = client.get("/describe", headers={"Host": "pesto.example:9000"})
    body = response.json()
    spec_validator("Describe").validate(body)
    assert body["_links"]["execution"]["href"] == "http://pesto.example:9000/api/v1/process"
    assert body["input"]["properties"]["image"]["$ref"] == "#/definitions/Image"


def test_version_config_openapi_and_metrics(client) -> None:
    assert client.get("/version").json()["version"] == "1.0.0"
    assert client.get("/config").json() == {"bands": ["blue", "green", "red", "nir"]}
    spec = yaml.safe_load(client.get("/openapi").text)
    assert spec["info"]["title"] == "NDVI"
    assert spec["components"]["schemas"]["ProcessInput"]["required"] == ["image"]
    client.get("/health")
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'pesto_http_requests_total{method="GET",route="/api/v1/health",status="200"}' in metrics.text
    assert 'pesto_jobs{state="SUCCEEDED"}' in metrics.text
    assert "pesto_workers_busy 0.0" in metrics.text and "pesto_queue_waiting 0.0" in metrics.text
    assert "# TYPE pesto_job_duration_seconds histogram" in metrics.text


def test_sync_process_by_reference_keeps_dtype_and_georeferencing(client, scene_uri) -> None:
    response = client.post("/process", json={"image": scene_uri})
    assert response.status_code == 200, response.text
    outputs = response.json()
    href = urlparse(outputs["ndvi"])
    assert href.scheme == "file"
    with rasterio.open(href.path) as out, rasterio.open(urlparse(scene_uri).path) as src:
        assert out.dtypes == ("float32",) and out.crs == src.crs and out.transform == src.transform
        np.testing.assert_array_equal(out.read(1), expected_ndvi(src.name))
    assert outputs["mean"] == pytest.approx(float(expected_ndvi(urlparse(scene_uri).path).mean()), rel=1e-4)


def test_sync_process_inline_returns_base64_geotiff(client, scene_uri, tmp_path) -> None:
    response = client.post("/process", params={"outputs": "inline"}, json={"image": scene_uri})
    assert response.status_code == 200, response.text
    tif = tmp_path / "inline.tif"
    tif.write_bytes(base64.b64decode(response.json()["ndvi"]))
    with rasterio.open(tif) as out:
        np.testing.assert_array_equal(out.read(1), expected_ndvi(urlparse(scene_uri).path))


def test_base64_and_binary_body_inputs(client, ndvi, scene_uri) -> None:
    raw = Path(urlparse(scene_uri).path).read_bytes()
    by_base64 = client.post("/process", json={"image": base64.b64encode(raw).decode()})
    by_body = client.post("/process", content=raw,
                          headers={"Content-Type": "application/octet-stream"})
    assert by_base64.status_code == by_body.status_code == 200, (by_base64.text, by_body.text)
    assert by_base64.json()["mean"] == by_body.json()["mean"]
    job = client.post("/jobs", content=raw, headers={"Content-Type": "application/octet-stream"})
    wait_until(lambda: client.get(job.headers["Location"]).json()["status"] == "SUCCEEDED",
               timeout=60, what="async binary job")
    spool = ndvi.root / "state" / "spool"
    assert not spool.exists() or list(spool.iterdir()) == []  # spooled bodies are removed


def test_single_image_output_as_raw_bytes(service_factory, tmp_path) -> None:
    echo = Path(__file__).resolve().parents[2] / "benchmarks" / "services" / "echo"
    raw = tmp_path / "tile.tif"
    write_scene(raw, size=32)
    service = service_factory(echo)
    with service.client() as client:
        response = client.post("/process", content=raw.read_bytes(), headers={
            "Content-Type": "application/octet-stream", "Accept": "image/tiff"})
        assert response.status_code == 200 and response.headers["content-type"].startswith(
            "image/tiff")
        out = tmp_path / "out.tif"
        out.write_bytes(response.content)
        with rasterio.open(out) as result, rasterio.open(raw) as source:
            np.testing.assert_array_equal(result.read(), source.read())
            assert result.transform == source.transform and result.crs == source.crs


def test_async_by_prefer_header_and_by_jobs(client, scene_uri) -> None:
    for response in (client.post("/process", json={"image": scene_uri},
                                 headers={"Prefer": "respond-async"}),
                     client.post("/jobs", json={"image": scene_uri})):
        assert response.status_code == 201, response.text
        status_url = response.headers["Location"]
        assert response.json()["status"] in ("ACCEPTED", "RUNNING", "SUCCEEDED")
        final = wait_until(lambda url=status_url: (
            (body := client.get(url).json())["status"] in ("SUCCEEDED", "FAILED") and body),
            timeout=60, what="job end")
        assert final["status"] == "SUCCEEDED" and final["progress"] == 100
        spec_validator("Status").validate(final)
        results = client.get(final["_links"]["results"]["href"]).json()
        spec_validator("JobResults").validate(results)
        by_id = {r["id"]: r["_link"] for r in results}
        values = {r["id"]: r["value"] for r in results}  # as a sync call answers them
        assert values["ndvi"].startswith("file://") and isinstance(values["mean"], float)
        assert by_id["ndvi"]["type"].startswith("image/tiff")
        image = client.get(by_id["ndvi"]["href"])
        assert image.headers["content-type"].startswith("image/tiff") and image.content[:2] in (b"II", b"MM")
        assert isinstance(client.get(by_id["mean"]["href"]).json(), float)
    listed = {job["jobId"] for job in client.get("/jobs").json()}
    assert final["jobId"] in listed


def test_accept_image_on_a_multi_output_service_is_406(client, scene_uri) -> None:
    assert_error(client.post("/process", json={"image": scene_uri},
                             headers={"Accept": "image/tiff"}), 406, contains="single image")


def test_correlation_id_is_echoed_and_put_in_errors(client) -> None:
    response = client.post("/process", json={"image": 1}, headers={"X-Correlation-ID": "abc-123"})
    assert response.headers["x-correlation-id"] == "abc-123"
    assert assert_error(response, 400)["correlationId"] == "abc-123"
    generated = client.get("/health").headers["x-correlation-id"]
    assert len(generated) >= 16


@pytest.mark.parametrize(("body", "status", "contains"), [
    ({"image": 3}, 400, "image"),
    ({"image": "file:///x.tif", "red_band": 0}, 400, "red_band"),
    ({"image": "file:///x.tif", "extra": 1}, 400, "extra"),
    ({"image": "file:///etc/passwd"}, 403, "/etc/passwd"),
    ({"image": "ftp://host/x.tif"}, 400, "ftp"),
])
def test_bad_inputs_are_refused_before_queueing(client, body, status, contains) -> None:
    assert_error(client.post("/process", json=body), status, contains=contains)


def test_malformed_bodies(client) -> None:
    assert_error(client.post("/process", content=b"{not json",
                             headers={"Content-Type": "application/json"}), 400, contains="JSON")
    assert_error(client.post("/process", json=[1, 2]), 400, contains="object")
    assert_error(client.post("/process", content=b"x", headers={"Content-Type": "text/csv"}),
                 400, contains="text/csv")
    assert_error(client.post("/process?outputs=carrier-pigeon", json={}), 400, contains="outputs")
    deep = b"[" * 200_000 + b"]" * 200_000
    assert_error(client.post("/process", content=deep,
                             headers={"Content-Type": "application/json"}), 400, contains="nested")


def test_oversized_body_is_413(client) -> None:
    big = b"0" * (3 * 1024 * 1024)
    assert_error(client.post("/process", content=big,
                             headers={"Content-Type": "application/octet-stream"}), 413,
                 contains="PESTO_MAX_BODY_BYTES")

    def chunks():  # no Content-Length: the limit is found while streaming
        for _ in range(3):
            yield b"0" * (1024 * 1024)
    assert_error(client.post("/process", content=chunks(),
                             headers={"Content-Type": "application/octet-stream"}), 413)


def test_corrupt_image_is_a_client_error_not_a_500(client, ndvi) -> None:
    corrupt = ndvi.root / "inputs" / "corrupt.tif"
    corrupt.write_bytes(b"II*\x00 this is not a tiff")
    assert_error(client.post("/process", json={"image": corrupt.as_uri()}), 422,
                 contains="corrupt.tif")
    not_base64 = client.post("/process", json={"image": "%%%% not an image %%%%"})
    assert 400 <= not_base64.status_code < 500
    assert_error(not_base64, not_base64.status_code)


def test_algorithm_error_is_reported_without_traceback(client, scene_uri) -> None:
    body = assert_error(client.post("/process", json={"image": scene_uri, "red_band": 9}), 422,
                        contains="red_band=9")
    assert "4 band(s)" in body["message"]


def test_unknown_job_unknown_route_and_unknown_result(client, scene_uri) -> None:
    assert_error(client.get("/jobs/nope/status"), 404, contains="nope")
    assert_error(client.get("/jobs/nope/results"), 404)
    assert_error(client.delete("/jobs/nope"), 404)
    assert_error(client.get("/no-such-route"), 404)
    job = client.post("/jobs", json={"image": scene_uri}).json()
    wait_until(lambda: client.get(f"/jobs/{job['jobId']}/status").json()["status"] == "SUCCEEDED",
               timeout=60, what="job end")
    assert "ndvi" in assert_error(client.get(f"/jobs/{job['jobId']}/results/nope"), 404)["hint"]


def test_delete_finished_job_removes_its_results(client, ndvi, scene_uri) -> None:
    job_id = client.post("/jobs", json={"image": scene_uri}).json()["jobId"]
    wait_until(lambda: client.get(f"/jobs/{job_id}/status").json()["status"] == "SUCCEEDED",
               timeout=60, what="job end")
    output_dir = ndvi.root / "state" / "outputs" / job_id
    assert (output_dir / "ndvi.tif").is_file()
    assert client.delete(f"/jobs/{job_id}").status_code == 204
    assert not output_dir.exists()
    assert_error(client.get(f"/jobs/{job_id}/status"), 404)


def test_auth_on(service_factory, tmp_path) -> None:
    service = service_factory(NDVI, env={"PESTO_API_TOKEN": "s3cret"})
    with service.client() as anonymous:
        assert anonymous.get("/health").status_code == 200
        for path in ("/describe", "/jobs", "/metrics", "/config", "/version", "/openapi"):
            body = assert_error(anonymous.get(path), 401)
            assert "token" in body["message"]
        assert_error(anonymous.post("/process", json={}), 401)
        for page in ("/openapi.json", "/docs"):  # FastAPI's pages cannot check the token
            assert anonymous.get(page).status_code == 404
    with service.client(headers={"Authorization": "Bearer wrong"}) as wrong:
        assert_error(wrong.get("/describe"), 401, contains="invalid")
    with service.client(headers={"Authorization": "Bearer s3cret"}) as authorised:
        assert authorised.get("/describe").status_code == 200
        assert json.loads(authorised.get("/jobs").text) == []
