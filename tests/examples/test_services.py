"""Each service of the chain alone over a real runtime: describe, bad input, clear errors.

Bad input answers with the geoprocessing Error body naming the problem and leaves no output
marked as success: tile_size <= 0 or margin < 0 (400, from the schema), an unreadable scene or a
file that is not a raster (422), a tile read with less margin than the detector needs (400),
missing or overlapping tiles and masks whose size is not their window's (422).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from tests.examples.conftest import read_raster

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")]


@pytest.fixture(scope="module")
def scene(chain):
    from examples.scenes import write_synthetic_scene

    return write_synthetic_scene(chain.root / "inputs" / "scene.tif", height=200, width=180,
                                 seed=5, nodata_border=4)


@pytest.fixture(scope="module")
def results(chain, scene) -> list[dict]:
    tiling = chain.call(chain.tiling, {"scene": scene.path.as_uri(), "tile_size": 64})
    return chain.detect_all(tiling["tiles"])


def error(chain, service, payload: dict, status: int) -> str:
    body = chain.call(service, payload, expect=status)
    assert set(body) == {"message", "hint", "correlationId", "timestamp"}
    assert "Traceback" not in body["message"]
    return body["message"]


def test_describe_documents_name_the_chain_types(chain):
    with chain.tiling.client() as http:
        tiling = http.get("/describe").json()
    with chain.detection.client() as http:
        detection = http.get("/describe").json()
        config = http.get("/config").json()
    with chain.merge.client() as http:
        merge = http.get("/describe").json()
    assert tiling["name"] == "pesto/tiling" and detection["name"] == "pesto/cloud-detection"
    assert merge["name"] == "pesto/merge"
    scene = tiling["input"]["properties"]["scene"]
    assert scene["x-pesto-read"] == "header" and len(scene["anyOf"]) == 2
    tiles = tiling["output"]["content"]["application/json"]["schema"]["properties"]["tiles"]
    assert tiles["$ref"] == "#/definitions/ImageRefs"
    assert detection["input"]["properties"]["tile"]["$ref"] == "#/definitions/ImageRef"
    assert config["algorithm"] == "spectral" and config["spectral"]["shadow_distance"] == 30
    assert merge["input"]["definitions"]["TileResult"]["properties"]["mask"]["$ref"] \
        == "#/definitions/ImageRef"
    output = merge["output"]["content"]["application/json"]["schema"]["properties"]
    assert output["quicklook"]["contentMediaType"] == "image/png"


def test_tiling_answers_from_the_header_with_tiles_of_the_scene(chain, scene):
    ref = {"href": scene.path.as_uri(), "bands": [1, 2, 3, 4, 5, 6]}
    answer = chain.call(chain.tiling, {"scene": ref, "tile_size": 100, "margin": 7})
    assert (answer["width"], answer["height"], answer["count"]) == (180, 200, 4)
    assert answer["tiles"][3] == {"href": scene.path.as_uri(), "margin": 7, "bands": [1, 2, 3, 4, 5, 6],
                                  "window": {"col_off": 100, "row_off": 100, "width": 80,
                                             "height": 100}}


@pytest.mark.parametrize(("payload", "named"), [
    ({"tile_size": 0}, "'tile_size'"),
    ({"margin": -1}, "'margin'"),
    ({"tile_size": 1.5}, "'tile_size'"),
])
def test_tiling_bad_sizes_are_400_from_the_schema(chain, scene, payload, named):
    message = error(chain, chain.tiling, {"scene": scene.path.as_uri(), **payload}, 400)
    assert named in message


def test_unreadable_scenes_and_non_rasters_are_422(chain):
    inputs = chain.root / "inputs"
    (inputs / "notes.tif").write_text("this is not a raster")
    (inputs / "truncated.tif").write_bytes(b"II*\x00\x08\x00\x00\x00")
    for name in ("missing.tif", "notes.tif", "truncated.tif"):
        uri = (inputs / name).as_uri()
        assert name in error(chain, chain.tiling, {"scene": uri}, 422)
        assert name in error(chain, chain.merge, {"scene": uri, "tiles": [{
            "mask": {"href": uri}, "window": {"col_off": 0, "row_off": 0, "width": 1,
                                              "height": 1}}]}, 422)
        assert name in error(chain, chain.detection, {"tile": {"href": uri}}, 422)


def test_scene_outside_the_input_roots_is_forbidden(chain):
    assert "not allowed" in error(chain, chain.tiling, {"scene": "file:///etc/hostname"}, 403)


def test_tiling_refuses_a_window_and_absurd_tile_counts(chain, scene):
    window = {"col_off": 0, "row_off": 0, "width": 10, "height": 10}
    message = error(chain, chain.tiling, {"scene": {"href": str(scene.path), "window": window}},
                    400)
    assert "whole scene" in message
    big = chain.root / "inputs" / "big.tif"
    from examples.scenes import write_cog

    write_cog(big, np.zeros((1, 2000, 2000), np.uint8))
    assert "at most 100000" in error(chain, chain.tiling, {"scene": str(big), "tile_size": 2}, 400)


def test_cloud_detection_refuses_a_margin_smaller_than_the_detector_needs(chain, scene):
    window = {"col_off": 60, "row_off": 60, "width": 50, "height": 50}
    message = error(chain, chain.detection, {"tile": {"href": scene.path.as_uri(),
                                                      "window": window, "margin": 10}}, 400)
    assert "tile margin 10" in message and "40 pixels" in message
    # At the scene's border a short margin is no loss: nothing lies beyond it.
    corner = {"col_off": 0, "row_off": 0, "width": 50, "height": 50}
    answer = chain.call(chain.detection, {"tile": {"href": scene.path.as_uri(), "window": corner,
                                                   "margin": 40}})
    assert answer["window"] == corner and answer["valid_pixels"] == 50 * 50 - 4 * 50 - 4 * 46


def test_cloud_detection_output_is_the_core_georeferenced_like_its_window(chain, scene, results):
    result = next(r for r in results if r["window"]["col_off"] == 64 and r["window"]["row_off"] == 64)
    mask, profile = read_raster(result["mask"]["href"])
    assert mask.shape == (1, 64, 64) and profile["dtype"] == "uint8" and profile["nodata"] == 255
    assert profile["transform"] == scene.transform @ scene.transform.translation(64, 64)
    assert str(profile["crs"]) == "EPSG:32631" and result["valid_pixels"] == 64 * 64


def test_merge_refuses_missing_overlapping_and_misfit_tiles(chain, scene, results):
    uri = scene.path.as_uri()
    missing = error(chain, chain.merge, {"scene": uri, "tiles": results[1:]}, 422)
    assert "covered by no tile" in missing and "col_off=0 row_off=0 width=64 height=64" in missing
    overlap = error(chain, chain.merge, {"scene": uri, "tiles": results + results[:1]}, 422)
    assert "overlaps tiles[0] window col_off=0 row_off=0" in overlap
    misfit = copy.deepcopy(results)
    misfit[0]["window"]["width"] = 63
    assert "not the window's 63 x 64" in error(chain, chain.merge, {"scene": uri, "tiles": misfit},
                                               422)
    outside = copy.deepcopy(results)
    outside[0]["window"]["col_off"] = 150
    assert "outside the 180 x 200 scene" in error(chain, chain.merge,
                                                 {"scene": uri, "tiles": outside}, 422)
    assert "'tiles'" in error(chain, chain.merge, {"scene": uri, "tiles": []}, 400)


def test_cloud_detection_bands_missing_from_the_tile_are_422_naming_them(chain, scene):
    ref = {"href": scene.path.as_uri(), "bands": [1, 2, 3, 4]}
    message = error(chain, chain.detection, {"tile": ref}, 422)
    assert "4 band(s)" in message and "swir1" in message


def test_tiling_reads_no_pixels_so_a_huge_scene_answers_at_once(chain):
    import rasterio

    # 60000 x 60000 uint16 (7.2 GB of pixels) in a sparse file of a few kilobytes: reading its
    # pixels would take minutes and all the memory; reading its header takes nothing.
    huge = chain.root / "inputs" / "huge.tif"
    with rasterio.open(huge, "w", driver="GTiff", width=60000, height=60000, count=1,
                       dtype="uint16", tiled=True, sparse_ok=True, crs="EPSG:32631",
                       transform=rasterio.transform.from_origin(0, 600000, 10, 10)):
        pass
    assert huge.stat().st_size < 1_000_000
    answer = chain.call(chain.tiling, {"scene": huge.as_uri(), "tile_size": 1024})
    assert (answer["width"], answer["height"], answer["count"]) == (60000, 60000, 59 * 59)
    assert answer["tiles"][-1]["window"] == {"col_off": 59392, "row_off": 59392, "width": 608,
                                             "height": 608}


def test_merge_async_results_serve_the_quicklook_as_png(chain, scene, results):
    from tests.conftest import wait_until

    with chain.merge.client() as http:
        job = http.post("/jobs", json={"scene": scene.path.as_uri(), "tiles": results}).json()
        status = wait_until(lambda: (s := http.get(f"/jobs/{job['jobId']}/status").json())
                            ["status"] in ("SUCCEEDED", "FAILED") and s, timeout=60,
                            what="merge job")
        assert status["status"] == "SUCCEEDED", status
        listed = {r["id"]: r["_link"]["type"]
                  for r in http.get(f"/jobs/{job['jobId']}/results").json()}
        quicklook = http.get(f"/jobs/{job['jobId']}/results/quicklook")
    assert listed["quicklook"] == "image/png" and listed["mask"].startswith("image/tiff")
    assert quicklook.headers["content-type"] == "image/png"
    assert quicklook.content[:8] == b"\x89PNG\r\n\x1a\n"
