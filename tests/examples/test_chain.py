"""The cloud-mask chain run by hand over real services: tiling -> cloud-detection x N -> merge.

Tiles go through cloud-detection and into merge in shuffled order; the merged mask must equal the
spectral detector run once on the whole scene, bit for bit, on the real Sentinel-2 crop (no
georeferencing) and on a synthetic georeferenced scene with nodata borders, whatever the tile
size (dividing the scene or not, one tile, tiles smaller than their margin).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.examples.conftest import read_raster, whole_scene_mask

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")]


@pytest.fixture(scope="module")
def crop(chain) -> Path:
    from examples.scenes import copy_sentinel2_crop

    return copy_sentinel2_crop(chain.root / "inputs").image


@pytest.fixture(scope="module")
def synthetic(chain):
    from examples.scenes import write_synthetic_scene

    return write_synthetic_scene(chain.root / "inputs" / "synthetic.tif", height=300, width=260,
                                 seed=3, dtype=np.uint16, nodata_border=12)


def check_merged(merged: dict, scene: Path) -> np.ndarray:
    """The merged mask equals the whole-scene run; nodata 255; georeferenced like the scene."""
    mask, profile = read_raster(merged["mask"])
    _, scene_profile = read_raster(scene)
    expected = whole_scene_mask(scene)
    assert mask.shape == (1, *expected.shape) and profile["dtype"] == "uint8"
    np.testing.assert_array_equal(mask[0], expected)
    assert profile["nodata"] == 255 and profile["crs"] == scene_profile["crs"]
    assert profile["transform"] == scene_profile["transform"]
    valid = expected != 255
    assert merged["cloud_fraction"] == pytest.approx((expected[valid] == 1).sum() / valid.sum())
    return expected


def test_real_crop_tiles_not_dividing_the_scene_merge_to_the_whole_scene_mask(chain, crop):
    tiling, merged = chain.run(crop.as_uri(), tile_size=200, seed=1)
    assert (tiling["width"], tiling["height"], tiling["count"]) == (512, 512, 9)
    widths = sorted({tile["window"]["width"] for tile in tiling["tiles"]})
    assert widths == [112, 200] and {t["margin"] for t in tiling["tiles"]} == {40}
    expected = check_merged(merged, crop)
    assert {0, 1, 2} <= set(np.unique(expected))  # clouds and shadows both present
    assert read_raster(merged["mask"])[1]["crs"] is None  # no CRS is invented for the crop

    quicklook, profile = read_raster(merged["quicklook"])
    assert merged["quicklook"].endswith(".png") and profile["driver"] == "PNG"
    assert quicklook.shape == (3, 512, 512)
    for code, colour in ((0, [64, 64, 64]), (1, [255, 255, 255]), (2, [0, 0, 139])):
        pixels = quicklook[:, expected == code].T
        assert (pixels == colour).all()


def test_synthetic_scene_with_nodata_borders_merges_exactly_and_georeferenced(chain, synthetic):
    tiling, merged = chain.run(synthetic.path.as_uri(), tile_size=128, seed=2)
    assert tiling["count"] == 9
    expected = check_merged(merged, synthetic.path)
    assert (expected[:12] == 255).all() and (expected[12:-12, 12:-12] != 255).all()
    assert str(read_raster(merged["mask"])[1]["crs"]) == "EPSG:32631"


def test_margin_larger_than_a_tile_still_merges_exactly(chain, synthetic):
    tiling, merged = chain.run(synthetic.path.as_uri(), tile_size=50, margin=60, seed=3)
    assert tiling["count"] == 36
    check_merged(merged, synthetic.path)


def test_a_single_tile_covers_the_whole_scene(chain, crop):
    tiling, merged = chain.run(crop.as_uri(), tile_size=4096, seed=4)
    assert tiling["count"] == 1
    assert tiling["tiles"][0]["window"] == {"col_off": 0, "row_off": 0, "width": 512, "height": 512}
    check_merged(merged, crop)


def test_merge_takes_results_in_any_order(chain, synthetic):
    tiling = chain.call(chain.tiling, {"scene": synthetic.path.as_uri(), "tile_size": 100})
    results = chain.detect_all(tiling["tiles"])
    forward = chain.call(chain.merge, {"scene": synthetic.path.as_uri(), "tiles": results})
    backward = chain.call(chain.merge, {"scene": synthetic.path.as_uri(), "tiles": results[::-1]})
    np.testing.assert_array_equal(read_raster(forward["mask"])[0], read_raster(backward["mask"])[0])
    assert forward["cloud_fraction"] == backward["cloud_fraction"]
