"""Tiling geometry: windows, grids, padding and cropping."""

from __future__ import annotations

import numpy as np
import pytest
from pesto_factory.runtime.raster import (
    TileGrid,
    TilingError,
    Window,
    balanced_grid,
    crop_to_core,
    pad_block,
    plan_tiles,
    regular_grid,
)
from scipy import ndimage


def coverage(grid: TileGrid) -> np.ndarray:
    hits = np.zeros((grid.height, grid.width), int)
    for tile in grid:
        hits[tile.core.slices] += 1
    return hits


def test_window_rejects_negative_sizes_and_non_integers():
    with pytest.raises(TilingError, match="Window.width must be >= 0, got -1") as info:
        Window(0, 0, -1, 5)
    assert isinstance(info.value, ValueError)
    assert (info.value.argument, info.value.value) == ("Window.width", -1)
    with pytest.raises(TilingError, match="Window.height"):
        Window(0, 0, 5, -2)
    with pytest.raises(TilingError, match="integer"):
        Window(0.5, 0, 5, 5)
    assert Window(np.int64(2), 3, 4, 5) == Window(2, 3, 4, 5)


def test_window_geometry():
    window = Window(col_off=10, row_off=20, width=5, height=4)
    assert (window.row_stop, window.col_stop, window.shape) == (24, 15, (4, 5))
    assert window.expand(3) == Window(7, 17, 11, 10)
    assert Window(-3, -2, 10, 10).clip(5, 6) == Window(0, 0, 6, 5)
    assert Window(8, 8, 4, 4).clip(5, 5).shape == (0, 0)
    assert window.relative_to(Window(8, 18, 20, 20)) == Window(2, 2, 5, 4)
    image = np.arange(30 * 30).reshape(30, 30)
    assert image[window.slices].shape == (4, 5)
    assert window.to_rasterio().col_off == 10


@pytest.mark.parametrize(("height", "width", "tile", "margin"), [
    (97, 83, 20, 3),   # size not divisible: smaller edge tiles
    (40, 40, 20, 0),   # exact division, no margin
    (97, 83, 10, 25),  # margin larger than a tile
    (30, 50, 64, 5),   # one tile bigger than the image
    (1, 1, 1, 2),      # one pixel
])
def test_regular_grid_cores_cover_exactly_and_reads_are_clipped(height, width, tile, margin):
    grid = regular_grid(height, width, tile_size=tile, margin=margin)
    assert (coverage(grid) == 1).all()
    assert [t.index for t in grid] == list(range(len(grid)))
    for t in grid:
        assert 0 < t.core.height <= tile and 0 < t.core.width <= tile
        assert t.read == t.core.expand(margin).clip(height, width)
        top, left, bottom, right = t.margins
        assert top == min(margin, t.core.row_off)
        assert bottom == min(margin, height - t.core.row_stop)
        assert left == min(margin, t.core.col_off)
        assert right == min(margin, width - t.core.col_stop)
        inner = t.core_in_read
        assert (inner.row_off, inner.col_off) == (top, left)
    assert grid.tile_shape == (min(tile, height), min(tile, width))
    assert grid.block_shape == (grid.tile_shape[0] + 2 * margin, grid.tile_shape[1] + 2 * margin)


def test_regular_grid_edge_tiles_hold_the_rest():
    grid = regular_grid(97, 83, tile_size=(20, 30), margin=2)
    assert len(grid) == 5 * 3
    assert grid[-1].core == Window(60, 80, 23, 17)


@pytest.mark.parametrize(("kwargs", "argument", "value"), [
    ({"tile_size": 0}, "tile_size", 0),
    ({"tile_size": -4}, "tile_size", -4),
    ({"tile_size": 10, "margin": -1}, "margin", -1),
    ({"tile_size": 10, "height": 0}, "height", 0),
    ({"tile_size": 10, "width": 0}, "width", 0),
    ({"tile_size": 2.5}, "tile_size", 2.5),
])
def test_bad_tiling_arguments_name_argument_and_value(kwargs, argument, value):
    args = {"height": 10, "width": 10, **kwargs}
    with pytest.raises(TilingError) as info:
        regular_grid(args.pop("height"), args.pop("width"), **args)
    assert isinstance(info.value, ValueError)
    assert info.value.argument == argument and info.value.value == value
    assert argument in str(info.value) and repr(value) in str(info.value)


def test_balanced_grid_gives_every_worker_equal_tiles():
    # EOScale cuts 10980 x 10980 for 2 workers into one 7764-pixel tile and three leftovers.
    grid = balanced_grid(10980, 10980, workers=2, margin=2, max_tile_pixels=4096 ** 2)
    assert len(grid) % 2 == 0
    areas = [t.core.width * t.core.height for t in grid]
    assert max(areas) <= 4096 ** 2
    assert max(areas) / min(areas) < 1.01
    assert (coverage(balanced_grid(97, 83, workers=3, margin=4, max_tile_pixels=500)) == 1).all()


@pytest.mark.parametrize("workers", [1, 2, 3, 4, 7])
def test_balanced_grid_count_is_a_multiple_of_workers(workers):
    grid = balanced_grid(1000, 700, workers=workers, max_tile_pixels=40_000)
    assert len(grid) % workers == 0
    heights = {t.core.height for t in grid}
    widths = {t.core.width for t in grid}
    assert max(heights) - min(heights) <= 1 and max(widths) - min(widths) <= 1
    assert max(heights) / max(widths) < 2.5 and max(widths) / max(heights) < 2.5


def test_balanced_grid_tiny_image_and_bad_workers():
    assert len(balanced_grid(1, 3, workers=2)) == 2
    assert len(balanced_grid(1, 1, workers=4)) == 1
    with pytest.raises(TilingError, match="workers"):
        balanced_grid(10, 10, workers=0)


def test_plan_tiles_picks_regular_or_balanced():
    assert plan_tiles(100, 100, tile_size=30).tile_shape == (30, 30)
    assert len(plan_tiles(100, 100, workers=2, max_tile_pixels=2500)) == 4


@pytest.mark.parametrize(("pad_mode", "scipy_mode"), [
    ("symmetric", "reflect"), ("reflect", "mirror"), ("edge", "nearest"),
    ("constant", "constant"), ("wrap", "wrap"),
])
def test_padded_blocks_give_the_whole_image_result(pad_mode, scipy_mode):
    rng = np.random.default_rng(1)
    image = rng.normal(size=(2, 45, 38))
    whole = ndimage.uniform_filter(image, size=(1, 5, 5), mode=scipy_mode, cval=7.0)
    grid = regular_grid(45, 38, tile_size=16, margin=2)
    result = np.empty_like(image)
    for tile in grid:
        block = image[(slice(None), *tile.read.slices)]
        padded = pad_block(block, tile, margin=grid.margin, shape=grid.block_shape,
                           mode=pad_mode, cval=7.0)
        assert padded.shape == (2, *grid.block_shape)
        filtered = ndimage.uniform_filter(padded, size=(1, 5, 5), mode=scipy_mode, cval=7.0)
        result[(slice(None), *tile.core.slices)] = crop_to_core(filtered, tile, padded_margin=2)
    if pad_mode == "wrap":  # wrapping a block is not wrapping the image; only the interior agrees
        np.testing.assert_allclose(result[:, 2:-2, 2:-2], whole[:, 2:-2, 2:-2])
    else:
        np.testing.assert_allclose(result, whole, rtol=0, atol=1e-12)


def test_crop_to_core_of_a_read_block_and_shape_checks():
    grid = regular_grid(10, 10, tile_size=4, margin=3)
    tile = grid[5]
    image = np.arange(100).reshape(1, 10, 10)
    block = image[(slice(None), *tile.read.slices)]
    np.testing.assert_array_equal(crop_to_core(block, tile), image[(slice(None), *tile.core.slices)])
    with pytest.raises(TilingError, match="block shape"):
        crop_to_core(block[:, 1:], tile)
    with pytest.raises(TilingError, match="mode"):
        pad_block(block, tile, margin=3, shape=grid.block_shape, mode="mirror")
    with pytest.raises(TilingError, match="shape"):
        pad_block(block, tile, margin=3, shape=(4, 4))


def test_window_as_the_json_window_type_and_overlaps():
    window = Window(3, 4, 5, 6)
    assert Window.from_dict(window.as_dict()) == window
    assert window.as_dict() == {"col_off": 3, "row_off": 4, "width": 5, "height": 6}
    assert window.intersects(Window(7, 9, 1, 1)) and not window.intersects(Window(8, 4, 2, 2))
    with pytest.raises(TilingError, match="col_off, row_off, width and height"):
        Window.from_dict({"col_off": 1})
    with pytest.raises(TilingError, match="Window.width"):
        Window.from_dict({"col_off": 0, "row_off": 0, "width": -1, "height": 1})
