"""The merge service's parts in-process: placing tile masks, and the quicklook rendering."""

from __future__ import annotations

import numpy as np
import pytest
from pesto_factory.runtime.errors import UnprocessableInput

from tests.examples.conftest import load_example_package

load_example_package("merge", "merge_algorithm")
from merge_algorithm.mosaic import mosaic  # noqa: E402
from merge_algorithm.quicklook import PALETTE, quicklook  # noqa: E402


def result(col: int, row: int, width: int, height: int, value: int = 1) -> dict:
    return {"mask": np.full((1, height, width), value, np.uint8),
            "window": {"col_off": col, "row_off": row, "width": width, "height": height}}


def test_mosaic_places_each_tile_whatever_the_order():
    tiles = [result(0, 0, 3, 2, 0), result(3, 0, 2, 2, 1), result(0, 2, 5, 1, 2)]
    expected = np.array([[0, 0, 0, 1, 1], [0, 0, 0, 1, 1], [2, 2, 2, 2, 2]], np.uint8)
    for order in ([0, 1, 2], [2, 0, 1], [1, 2, 0]):
        np.testing.assert_array_equal(mosaic([tiles[i] for i in order], height=3, width=5),
                                      expected)


@pytest.mark.parametrize(("tiles", "fault"), [
    ([result(0, 0, 5, 2)], "5 pixels of the 5 x 3 scene are covered by no tile, within window "
                           "col_off=0 row_off=2 width=5 height=1"),
    ([result(0, 0, 5, 3), result(4, 2, 1, 1)], "tiles[1] window col_off=4 row_off=2 width=1 "
                                               "height=1 overlaps tiles[0] window col_off=0"),
    ([{**result(0, 0, 5, 3), "mask": np.zeros((1, 3, 4), np.uint8)}], "its mask is 4 x 3"),
    ([{**result(0, 0, 5, 3), "mask": np.zeros((3, 3, 5), np.uint8)}], "3 bands of 5 x 3"),
    ([{**result(0, 0, 5, 3), "mask": np.zeros((1, 3, 5), np.uint16)}], "uint16"),
    ([result(1, 0, 5, 3)], "reaches outside the 5 x 3 scene"),
])
def test_mosaic_refuses_holes_overlaps_and_misfits_naming_the_windows(tiles, fault):
    with pytest.raises(UnprocessableInput) as caught:
        mosaic(tiles, height=3, width=5)
    assert fault in caught.value.message and caught.value.status_code == 422


def test_quicklook_colours_and_longest_side():
    mask = np.array([[0, 1], [2, 255]], np.uint8)
    picture = quicklook(mask)
    assert picture.shape == (3, 2, 2) and picture.dtype == np.uint8
    assert picture[:, 0, 0].tolist() == [64, 64, 64]  # clear: dark grey
    assert picture[:, 0, 1].tolist() == [255, 255, 255]  # cloud: white
    assert picture[:, 1, 0].tolist() == [0, 0, 139]  # shadow: dark blue
    assert picture[:, 1, 1].tolist() == [0, 0, 0]  # nodata: black
    assert PALETTE[7].tolist() == [255, 0, 255]  # an unknown code shows


@pytest.mark.parametrize(("shape", "expected"), [
    ((3000, 2000), (1000, 667)), ((10980, 10980), (998, 998)), ((1025, 10), (512, 5)),
    ((1024, 700), (1024, 700)), ((1, 1), (1, 1)),
])
def test_quicklook_is_at_most_1024_on_the_longer_side(shape, expected):
    mask = np.zeros(shape, np.uint8)
    assert quicklook(mask).shape[1:] == expected
