"""OGC API - Processes on real services, every answer validated against the official schemas.

The ndvi example (one image in, an image and a number out) and the misbehaving test service
(held running by a gate file, failing on request) run under uvicorn on 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
import rasterio

from tests.conftest import wait_until
from tests.ogc.conftest import ogc_client
from tests.ogc.schemacheck import SCHEMAS, check

pytestmark = pytest.mark.slow

COG = "image/tiff; application=geotiff; profile=cloud-optimized"
CONF = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf"
EXCEPTIONS = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0"


def _pixels(uri: str) -> np.ndarray:
    with rasterio.open(unquote(urlparse(uri).path)) as src:
        return src.read()


def _problem(response, status: int, kind: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = check(response.json(), "exception")
    if kind:
        assert body["type"] == kind
    return body


def _check_openapi(document: dict) -> None:
    """A valid OpenAPI 3.0 document (openapi-spec-validator), its references to the official
    schemas resolved to the local copies."""
    from openapi_spec_validator import validate
    from pesto_factory.runtime.api.ogc.openapi import OGC_SCHEMAS

    local = SCHEMAS.resolve().as_uri()
    validate(json.loads(json.dumps(document).replace(OGC_SCHEMAS, local)), base_uri=f"{local}/")


def _finished(http, job_id: str) -> dict:
    def done():
        info = check(http.get(f"/jobs/{job_id}").json(), "statusInfo")
        return info if info["status"] in ("successful", "failed", "dismissed") else None
    return wait_until(done, timeout=60, what=f"job {job_id}")


def test_landing_conformance_and_api_definition(ndvi):
    with ogc_client(ndvi) as http:
        landing = check(http.get("/").json(), "landingPage")
        rels = {link["rel"]: link for link in landing["links"]}
        assert rels["service-desc"]["href"].endswith("/api")
        for rel in ("conformance", "processes", "job-list"):
            assert f"http://www.opengis.net/def/rel/ogc/1.0/{rel}" in rels
        classes = check(http.get("/conformance").json(), "confClasses")["conformsTo"]
        assert {f"{CONF}/{name}" for name in ("core", "ogc-process-description", "json",
                                              "html", "oas30", "job-list", "dismiss",
                                              "callback")} <= set(classes)
        api = http.get("/api")
        assert api.headers["content-type"].startswith("application/vnd.oai.openapi+json")
        document = api.json()
        assert document["openapi"].startswith("3.0")
        _check_openapi(document)
        assert {"/", "/conformance", "/api", "/processes", "/processes/{processId}",
                "/processes/{processId}/execution", "/jobs", "/jobs/{jobId}",
                "/jobs/{jobId}/results"} <= set(document["paths"])
        # the geoprocessing API is where it was
        assert http.get("/api/v1/describe").json()["name"] == "pesto/ndvi"


def test_a_browser_gets_html_pages(ndvi):
    with ogc_client(ndvi) as http:
        browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
        landing = http.get("/", headers=browser)
        assert landing.headers["content-type"].startswith("text/html")
        assert f'<a href="{ndvi.url}/processes">' in landing.text and "<h1>NDVI</h1>" in landing.text
        page = http.get("/processes/ndvi", params={"f": "html"})
        assert page.headers["content-type"].startswith("text/html") and "red_band" in page.text
        assert http.get("/jobs", params={"f": "html"}).text.startswith("<!DOCTYPE html>")
        assert http.get("/processes/ndvi", params={"f": "json"}).json()["id"] == "ndvi"
        assert http.get("/api", headers=browser).json()["openapi"].startswith("3.0")
        assert http.get("/processes/nope", headers=browser).status_code == 404


def test_process_list_and_description_come_from_the_describe_document(ndvi):
    with ogc_client(ndvi) as http:
        listed = check(http.get("/processes").json(), "processList")["processes"]
        assert [process["id"] for process in listed] == ["ndvi"]
        description = check(http.get("/processes/ndvi").json(), "process")
        assert set(description["jobControlOptions"]) >= {"sync-execute", "async-execute"}
        assert set(description["outputTransmission"]) == {"value", "reference"}
        image = description["inputs"]["image"]
        assert image["minOccurs"] == 1 and image["schema"]["contentMediaType"] == COG
        assert description["inputs"]["red_band"]["schema"] == {
            "type": "integer", "minimum": 1, "maximum": 64, "default": 3,
            "description": "1-based index of the red band"}
        assert description["outputs"]["ndvi"]["schema"]["contentMediaType"] == COG
        assert description["outputs"]["mean"]["schema"]["nullable"] is True
        _problem(http.get("/processes/nope"), 404, f"{EXCEPTIONS}/no-such-process")


def test_sync_execution_by_reference_and_by_value_gives_the_geoprocessing_outputs(ndvi, ogc_root):
    scene = (ogc_root / "inputs" / "scene.tif").as_uri()
    with ogc_client(ndvi) as http:
        expected = http.post("/api/v1/process", json={"image": scene}).json()
        by_reference = http.post("/processes/ndvi/execution", json={
            "inputs": {"image": {"href": scene, "type": COG}}})
        assert by_reference.status_code == 200, by_reference.text
        results = check(by_reference.json(), "results")
        assert results["ndvi"]["type"] == COG and results["mean"] == expected["mean"]
        np.testing.assert_array_equal(_pixels(results["ndvi"]["href"]),
                                      _pixels(expected["ndvi"]))
        by_value = check(http.post("/processes/ndvi/execution", json={
            "inputs": {"image": scene, "red_band": {"value": 3}},
            "outputs": {"ndvi": {"transmissionMode": "value"}}}).json(), "results")
        assert set(by_value) == {"ndvi"}  # only the output asked for
        assert by_value["ndvi"]["encoding"] == "base64" and by_value["ndvi"]["mediaType"] == COG
        with rasterio.MemoryFile(base64.b64decode(by_value["ndvi"]["value"])) as memory, \
                memory.open() as src:
            np.testing.assert_array_equal(src.read(), _pixels(expected["ndvi"]))


def test_an_image_passed_as_a_base64_qualified_value(ndvi, ogc_root):
    data = base64.b64encode((ogc_root / "inputs" / "scene.tif").read_bytes()).decode()
    with ogc_client(ndvi) as http:
        response = http.post("/processes/ndvi/execution", json={"inputs": {"image": {
            "value": data, "encoding": "base64", "mediaType": "image/tiff; application=geotiff"}}})
        assert response.status_code == 200, response.text
        assert isinstance(check(response.json(), "results")["mean"], float)


def test_raw_responses(ndvi, ogc_root):
    scene = (ogc_root / "inputs" / "scene.tif").as_uri()
    with ogc_client(ndvi) as http:
        image = http.post("/processes/ndvi/execution", json={
            "inputs": {"image": scene}, "response": "raw",
            "outputs": {"ndvi": {"transmissionMode": "value"}}})
        assert image.status_code == 200 and image.headers["content-type"] == COG
        with rasterio.MemoryFile(image.content) as memory, memory.open() as src:
            assert src.dtypes[0] == "float32" and src.crs is not None
        link = http.post("/processes/ndvi/execution", json={
            "inputs": {"image": scene}, "response": "raw", "outputs": {"ndvi": {}}})
        assert link.status_code == 204 and link.headers["link"].startswith("<file://")
        mean = http.post("/processes/ndvi/execution", json={
            "inputs": {"image": scene}, "response": "raw", "outputs": {"mean": {}}})
        assert isinstance(mean.json(), float)
        _problem(http.post("/processes/ndvi/execution", json={
            "inputs": {"image": scene}, "response": "raw"}), 400)


def test_async_job_is_the_same_job_in_both_apis(ndvi, ogc_root):
    scene = (ogc_root / "inputs" / "scene.tif").as_uri()
    with ogc_client(ndvi) as http:
        created = http.post("/processes/ndvi/execution", json={"inputs": {"image": scene}},
                            headers={"Prefer": "respond-async"})
        assert created.status_code == 201, created.text
        info = check(created.json(), "statusInfo")
        assert created.headers["location"] == f"{ndvi.url}/jobs/{info['jobID']}"
        assert info["status"] in ("accepted", "running", "successful")
        final = _finished(http, info["jobID"])
        assert final["status"] == "successful" and final["processID"] == "ndvi"
        results_link = next(link for link in final["links"]
                            if link["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/results")
        results = check(http.get(results_link["href"]).json(), "results")
        assert _pixels(results["ndvi"]["href"]).dtype == np.float32
        assert http.get(f"/api/v1/jobs/{info['jobID']}/status").json()["status"] == "SUCCEEDED"
        # a job submitted to the geoprocessing API is listed by the OGC API
        other = http.post("/api/v1/jobs", json={"image": scene}).json()["jobId"]
        listed = check(http.get("/jobs", params={"limit": 1000}).json(), "jobList")
        assert {info["jobID"], other} <= {job["jobID"] for job in listed["jobs"]}
        assert _finished(http, other)["status"] == "successful"
        only = check(http.get("/jobs", params={"status": "successful"}).json(), "jobList")
        assert {job["status"] for job in only["jobs"]} == {"successful"}
        # dismissing a finished job forgets it
        dismissed = check(http.delete(f"/jobs/{other}").json(), "statusInfo")
        assert dismissed["status"] == "dismissed"
        _problem(http.get(f"/jobs/{other}"), 404, f"{EXCEPTIONS}/no-such-job")
        _problem(http.get(f"/jobs/{other}/results"), 404, f"{EXCEPTIONS}/no-such-job")


def test_job_results_answer_as_the_execute_request_asked(ndvi, ogc_root):
    scene = (ogc_root / "inputs" / "scene.tif").as_uri()
    asynchronously = {"Prefer": "respond-async"}
    with ogc_client(ndvi) as http:
        only_mean = http.post("/processes/ndvi/execution", headers=asynchronously, json={
            "inputs": {"image": scene}, "outputs": {"mean": {}}}).json()["jobID"]
        raw_image = http.post("/processes/ndvi/execution", headers=asynchronously, json={
            "inputs": {"image": scene}, "response": "raw",
            "outputs": {"ndvi": {"transmissionMode": "value"}}}).json()["jobID"]
        assert _finished(http, only_mean)["status"] == "successful"
        assert set(check(http.get(f"/jobs/{only_mean}/results").json(), "results")) == {"mean"}
        assert _finished(http, raw_image)["status"] == "successful"
        image = http.get(f"/jobs/{raw_image}/results")
        assert image.status_code == 200 and image.headers["content-type"] == COG
        with rasterio.MemoryFile(image.content) as memory, memory.open() as src:
            assert src.dtypes[0] == "float32"


def test_results_not_ready_dismissal_and_failures(misbehaving, tmp_path):
    gate = tmp_path / "gate"
    with ogc_client(misbehaving) as http:
        process_id = http.get("/processes").json()["processes"][0]["id"]
        execution = f"/processes/{process_id}/execution"
        held = check(http.post(execution, json={"inputs": {"gate": str(gate)}},
                               headers={"Prefer": "respond-async"}).json(), "statusInfo")
        job = held["jobID"]
        wait_until(lambda: http.get(f"/jobs/{job}").json()["status"] == "running",
                   timeout=60, what="the held job to run")
        _problem(http.get(f"/jobs/{job}/results"), 404, f"{EXCEPTIONS}/result-not-ready")
        dismissed = check(http.delete(f"/jobs/{job}").json(), "statusInfo")
        assert dismissed["status"] == "dismissed"
        assert check(http.get(f"/jobs/{job}").json(), "statusInfo")["status"] == "dismissed"
        assert http.get(f"/api/v1/jobs/{job}/status").json()["status"] == "CANCELLED"

        failing = check(http.post(execution, json={"inputs": {"mode": "raise"}},
                                  headers={"Prefer": "respond-async"}).json(), "statusInfo")
        assert _finished(http, failing["jobID"])["status"] == "failed"
        body = _problem(http.get(f"/jobs/{failing['jobID']}/results"), 500)
        assert "bad pixel values" in body["detail"]
        sync_failure = http.post(execution, json={"inputs": {"mode": "own_error"}})
        assert "too cloudy" in _problem(sync_failure, sync_failure.status_code)["detail"]
        _problem(http.post(execution, json={"inputs": {"mode": 3}}), 400)
        _problem(http.post(execution, json={"inputs": {}, "outputs": {"nope": {}}}), 400)
        _problem(http.get("/jobs/no-such-job"), 404, f"{EXCEPTIONS}/no-such-job")


def test_callbacks_go_to_allowed_hosts_only(misbehaving, receiver, tmp_path):
    gate = tmp_path / "gate"
    with ogc_client(misbehaving) as http:
        process_id = http.get("/processes").json()["processes"][0]["id"]
        execution = f"/processes/{process_id}/execution"
        subscriber = {"successUri": receiver.url("/ok"), "inProgressUri": receiver.url("/busy"),
                      "failedUri": receiver.url("/failed")}
        job = http.post(execution, json={"inputs": {"gate": str(gate)},
                                         "subscriber": subscriber},
                        headers={"Prefer": "respond-async"}).json()["jobID"]
        running = receiver.wait_for("/busy")[0]
        assert check(running, "statusInfo")["status"] == "running" and running["jobID"] == job
        gate.write_text("go")
        results = check(receiver.wait_for("/ok")[0], "results")
        assert results["mode"] == "ok"
        http.post(execution, json={"inputs": {"mode": "raise"}, "subscriber": subscriber},
                  headers={"Prefer": "respond-async"})
        assert check(receiver.wait_for("/failed")[0], "statusInfo")["status"] == "failed"

        elsewhere = {"successUri": "http://example.org/hook"}
        body = _problem(http.post(execution, json={"inputs": {}, "subscriber": elsewhere},
                                  headers={"Prefer": "respond-async"}), 403)
        assert "PESTO_REMOTE_HOSTS" in (body.get("hint") or "")


def test_the_bearer_token_guards_the_ogc_routes_too(service_factory, tmp_path):
    from tests.conftest import EXAMPLES

    service = service_factory(EXAMPLES / "ndvi", state_dir=tmp_path / "state",
                              env={"PESTO_API_TOKEN": "s3cret"})
    with ogc_client(service) as http:
        for path in ("/", "/processes", "/jobs"):
            refused = http.get(path)
            _problem(refused, 401)
            assert refused.headers["www-authenticate"] == "Bearer"
        assert "s3cret" not in refused.text
        allowed = http.get("/processes", headers={"Authorization": "Bearer s3cret"})
        assert check(allowed.json(), "processList")["processes"][0]["id"] == "ndvi"
