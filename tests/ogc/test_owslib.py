"""OWSLib's OGC API - Processes client (a client nobody here wrote) against real services.

OWSLib 0.35's `Processes` lists, describes and executes (sync and async); it has no job
methods, so polling and fetching results follow the links of the answers with OWSLib's own
`http_get`. Every answer is validated against the official schemas too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from owslib.ogcapi.processes import Processes
from owslib.util import http_get

from tests.conftest import EXAMPLES, start_service, wait_until
from tests.ogc.schemacheck import check

pytestmark = pytest.mark.slow

RESULTS_REL = "http://www.opengis.net/def/rel/ogc/1.0/results"


def _link(document: dict, rel: str) -> str:
    return next(link["href"] for link in document["links"] if link["rel"] == rel)


def _async(client: Processes, process_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Execute asynchronously, poll the job's Location until it ends, fetch its results."""
    created = check(client.execute(process_id, inputs=inputs, async_=True), "statusInfo")
    location = client.response_headers["Location"]
    assert location.endswith(f"/jobs/{created['jobID']}")

    def finished() -> dict | None:
        status = check(http_get(location).json(), "statusInfo")
        return status if status["status"] in ("successful", "failed", "dismissed") else None

    status = wait_until(finished, timeout=120, interval=0.1, what=f"job {created['jobID']}")
    assert status["status"] == "successful", status
    return check(http_get(_link(status, RESULTS_REL)).json(), "results")


def test_owslib_lists_describes_executes_sync_and_async(ndvi, ogc_root):
    scene = (ogc_root / "inputs" / "scene.tif").as_uri()
    client = Processes(ndvi.url)
    assert [process["id"] for process in client.processes()] == ["ndvi"]
    description = check(client.process("ndvi"), "process")
    assert set(description["inputs"]) == {"image", "red_band", "nir_band"}
    assert "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core" in \
        check(client.conformance(), "confClasses")["conformsTo"]
    assert client.api()["openapi"].startswith("3.0")

    inputs = {"image": {"href": scene}, "red_band": 3, "nir_band": 4}
    sync = check(client.execute("ndvi", inputs=inputs), "results")
    later = _async(client, "ndvi", inputs)
    assert later["mean"] == sync["mean"]
    assert later["ndvi"]["type"] == sync["ndvi"]["type"] \
        == "image/tiff; application=geotiff; profile=cloud-optimized"


@pytest.fixture(scope="module")
def chain_services(ogc_root: Path) -> Iterator[dict[str, str]]:
    started = []
    try:
        for name in ("tiling", "cloud-detection", "merge"):
            started.append(start_service(EXAMPLES / name, ogc_root / f"state-owslib-{name}",
                                         env={"PESTO_INPUT_ROOTS": str(ogc_root)}))
        yield dict(zip(("tiling", "cloud-detection", "merge"),
                       (service.url for service in started), strict=True))
    finally:
        for service in started:
            service.stop()


def test_the_cloud_mask_chain_through_owslib_alone(chain_services, ogc_root):
    """tiling -> cloud-detection per tile -> merge, each an OWSLib execute; the merged mask
    equals the detector run once on the whole scene."""
    from examples.scenes import write_synthetic_scene
    from tests.examples.conftest import read_raster, whole_scene_mask

    scene = write_synthetic_scene(ogc_root / "inputs" / "owslib-scene.tif", height=200,
                                  width=180, seed=5, dtype=np.uint16, nodata_border=8).path
    tiling = Processes(chain_services["tiling"])
    detection = Processes(chain_services["cloud-detection"])
    merge = Processes(chain_services["merge"])

    tiles = check(tiling.execute("tiling", inputs={
        "scene": {"href": scene.as_uri()}, "tile_size": 100, "margin": 40}), "results")
    assert tiles["count"] == 4 and len(tiles["tiles"]) == 4
    results = []
    for index, tile in enumerate(tiles["tiles"]):  # each tile reference goes back as it came
        run = _async if index % 2 else (lambda c, p, i: check(c.execute(p, inputs=i), "results"))
        results.append(run(detection, "cloud-detection", {"tile": tile}))
    tile_results = [{"value": {"mask": {"href": result["mask"]["href"]},
                               "window": result["window"]["value"],
                               "cloud_fraction": result["cloud_fraction"],
                               "valid_pixels": result["valid_pixels"]}}
                    for result in results]
    merged = check(merge.execute("merge", inputs={"scene": {"href": scene.as_uri()},
                                                  "tiles": tile_results}), "results")
    mask, profile = read_raster(merged["mask"]["href"])
    np.testing.assert_array_equal(mask[0], whole_scene_mask(scene))
    assert merged["quicklook"]["type"] == "image/png" and profile["dtype"] == "uint8"
