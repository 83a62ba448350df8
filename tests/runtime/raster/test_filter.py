"""The tiled filter: whole-image equality, fan-out placement, errors and shared memory hygiene."""

from __future__ import annotations

import functools
import logging
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context, shared_memory

import numpy as np
import pytest
from pesto_factory.runtime.raster import (
    OutputSpec,
    RasterInputError,
    TileProcessingError,
    TilingError,
    run_filter,
    shared_empty,
)
from pesto_factory.runtime.raster import shared as shared_module
from pesto_factory.runtime.raster.shared import SHM_DIR, shared_spec
from scipy import ndimage

from tests.runtime.raster import funcs


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(7).integers(0, 1000, size=(2, 97, 83)).astype(np.uint16)


@pytest.fixture
def created_segments(monkeypatch) -> list[str]:
    """Names of every shared memory segment the engine creates during the test."""
    names: list[str] = []

    class Recording(shared_memory.SharedMemory):
        def __init__(self, name=None, create=False, size=0):
            super().__init__(name=name, create=create, size=size)
            if create:
                names.append(self.name)

    monkeypatch.setattr(shared_module.shared_memory, "SharedMemory", Recording)
    return names


def leftover(names: list[str]) -> list[str]:
    return [name for name in names if os.path.exists(os.path.join(SHM_DIR, name))]


CASES = [
    pytest.param(funcs.uniform5, 2, 20, id="uniform-5"),
    pytest.param(funcs.median7, 3, 20, id="median-7"),
    pytest.param(funcs.opening, 4, 20, id="binary-opening-x2"),
    pytest.param(funcs.wide_gaussian, 12, 8, id="margin-larger-than-tile"),
    pytest.param(funcs.uniform5, 2, 200, id="single-tile"),
    pytest.param(funcs.uniform5, 2, (13, 80), id="edge-tiles-and-strips"),
]


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize(("func", "margin", "tile_size"), CASES)
def test_tiled_result_equals_whole_image_bit_for_bit(image, func, margin, tile_size, workers):
    whole = func([image])[0]
    tiled = run_filter(func, [image], margin=margin, tile_size=tile_size, workers=workers)
    assert len(tiled) == 1
    assert tiled[0].dtype == whole.dtype
    np.testing.assert_array_equal(tiled[0], whole)


def test_balanced_default_tiling_equals_whole_image(image):
    tiled = run_filter(funcs.median7, [image], margin=3, workers=2, max_tile_pixels=900)
    np.testing.assert_array_equal(tiled[0], funcs.median7([image])[0])


def test_n_inputs_to_m_outputs_with_declared_outputs(image):
    other = np.random.default_rng(8).integers(0, 1000, size=(1, 97, 83)).astype(np.uint16)
    specs = [OutputSpec(1, np.float32), OutputSpec(1, "uint16")]
    ratio, peak = run_filter(funcs.two_in_two_out, [image, other[0]], margin=1, tile_size=25,
                             workers=2, outputs=specs)
    whole_ratio, whole_peak = funcs.two_in_two_out([image, other])
    assert (ratio.dtype, peak.dtype) == (np.float32, np.uint16)
    np.testing.assert_array_equal(ratio[0], whole_ratio)
    np.testing.assert_array_equal(peak, whole_peak)


def test_func_may_return_only_the_core(image):
    """With padding the core always starts at (margin, margin), so a function can crop it."""
    tiled = run_filter(funcs.core_sized, [image], margin=1, tile_size=30, workers=2,
                       pad="symmetric")
    np.testing.assert_array_equal(tiled[0], ndimage.uniform_filter(image, size=(1, 3, 3)))


def test_padding_gives_fixed_size_blocks(image):
    tiled = run_filter(funcs.fixed_shape_uniform, [image], margin=2, tile_size=20, workers=2,
                       pad="symmetric")
    np.testing.assert_array_equal(tiled[0], ndimage.uniform_filter(image, size=(1, 5, 5)))


def test_tiles_finishing_in_any_order_land_in_place():
    rows, cols = np.mgrid[0:60, 0:60].astype(np.int32)
    positions = np.stack([rows, cols])
    result = run_filter(funcs.slow_first_tiles, [positions], margin=0, tile_size=15, workers=2)
    np.testing.assert_array_equal(result[0], positions)


def test_outputs_are_shared_and_chain_without_copy(image, created_segments):
    first = run_filter(funcs.uniform5, [image], margin=2, tile_size=40, workers=2)[0]
    assert shared_spec(first) is not None
    made = len(created_segments)
    second = run_filter(funcs.uniform5, [first], margin=2, tile_size=40, workers=2)[0]
    assert len(created_segments) == made + 1  # the output only; the input was not copied
    np.testing.assert_array_equal(second, funcs.uniform5([funcs.uniform5([image])[0]])[0])
    del first, second
    assert leftover(created_segments) == []


def test_shared_input_is_used_in_place(image, created_segments):
    shared = shared_empty(image.shape, image.dtype)
    shared[...] = image
    run_filter(funcs.uniform5, [shared], margin=2, tile_size=40, workers=2)
    assert len(created_segments) == 2  # the shared input and the output


def test_failing_tile_is_named_and_leaves_no_shared_memory(image, created_segments):
    image = image.copy()
    image[0, 70, 75] = 7777  # tile 18 of a 20-pixel grid: row 3, column 3
    with pytest.raises(TileProcessingError) as info:
        run_filter(funcs.fails_on_marker, [image], margin=0, tile_size=20, workers=2,
                   outputs=[OutputSpec(2, "uint16")])
    error = info.value
    assert error.tile_index == 3 * 5 + 3
    assert "fails_on_marker failed on tile 18" in str(error)
    assert "rows 60:80, cols 60:80" in str(error)
    assert "RuntimeError: sensor glitch" in str(error)
    assert created_segments and leftover(created_segments) == []


def test_worker_killed_is_reported_and_leaves_no_shared_memory(image, created_segments):
    image = image.copy()
    image[0, 50, 50] = 7777
    with pytest.raises(TileProcessingError, match="a worker process died while processing"):
        run_filter(funcs.dies_on_marker, [image], margin=0, tile_size=20, workers=2,
                   outputs=[OutputSpec(2, "uint16")])
    assert created_segments and leftover(created_segments) == []


def test_function_that_cannot_be_pickled_is_a_clear_error(image, created_segments):
    def local_function(blocks):
        return [blocks[0]]

    with pytest.raises(TilingError, match="func must be picklable to run in worker processes"):
        run_filter(local_function, [image], margin=0, tile_size=40, workers=2)
    assert leftover(created_segments) == []
    # in one process nothing is pickled, so any callable works
    assert run_filter(local_function, [image], margin=0, workers=1)[0].shape == image.shape


def test_failure_while_probing_names_tile_zero(image):
    image = image.copy()
    image[0, 0, 0] = 7777
    with pytest.raises(TileProcessingError, match="tile 0") as info:
        run_filter(funcs.fails_on_marker, [image], margin=0, tile_size=20, workers=2)
    assert info.value.tile_index == 0


def test_wrong_output_shape_is_a_clear_error(image, created_segments):
    with pytest.raises(TileProcessingError, match="output 0 has 19 x 20 pixels; expected"):
        run_filter(funcs.wrong_shape, [image], margin=0, tile_size=20, workers=2,
                   outputs=[OutputSpec(2, "uint16")])
    assert leftover(created_segments) == []


def test_blocks_are_read_only(image):
    with pytest.raises(TileProcessingError, match="read-only"):
        run_filter(funcs.writes_in_place, [image], margin=1, tile_size=40, workers=1)


def test_unsafe_output_cast_is_refused(image):
    with pytest.raises(TileProcessingError, match="output 0"):
        run_filter(funcs.wide_gaussian, [image], margin=12, tile_size=50, workers=1,
                   outputs=[OutputSpec(2, "uint8")])


def test_bad_inputs(image):
    with pytest.raises(RasterInputError, match=r"input 1 \(array\) is 50 x 83 pixels"):
        run_filter(funcs.uniform5, [image, image[:, :50]], margin=2)
    with pytest.raises(RasterInputError, match="at least one input"):
        run_filter(funcs.uniform5, [], margin=2)
    with pytest.raises(RasterInputError, match="input 0 must be a non-empty"):
        run_filter(funcs.uniform5, [np.zeros((2, 2, 2, 2))], margin=2)
    with pytest.raises(TilingError, match="margin must be >= 0, got -1"):
        run_filter(funcs.uniform5, [image], margin=-1)
    with pytest.raises(TilingError, match="tile_size must be > 0"):
        run_filter(funcs.uniform5, [image], margin=1, tile_size=0)
    with pytest.raises(TilingError, match="workers"):
        run_filter(funcs.uniform5, [image], margin=1, workers=0)


def test_falls_back_to_one_process_without_room_in_shared_memory(image, monkeypatch, caplog,
                                                                  created_segments):
    monkeypatch.setattr("pesto_factory.runtime.raster._engine.shm_available", lambda: 1000)
    with caplog.at_level(logging.WARNING):
        tiled = run_filter(funcs.uniform5, [image], margin=2, tile_size=20, workers=2)
    assert "shared memory too small" in caplog.text
    assert created_segments == []
    np.testing.assert_array_equal(tiled[0], funcs.uniform5([image])[0])


def test_forkserver_is_used_when_other_threads_run(image):
    """Forking a process that runs other threads can deadlock the child: use a fork server."""
    from pesto_factory.runtime.raster._engine import mp_context

    if threading.active_count() == 1:
        assert mp_context(None).get_start_method() == "fork"
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait)
    helper.start()
    try:
        assert mp_context(None).get_start_method() == "forkserver"
        out = run_filter(funcs.uniform5, [image], margin=2, tile_size=50, workers=2)
    finally:
        stop.set()
        helper.join()
    np.testing.assert_array_equal(out[0], funcs.uniform5([image])[0])


def test_reusable_spawned_pool(image):
    """A caller's own pool, with the slowest start method: the function is pickled by name."""
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        for size in (5, 3):
            func = functools.partial(ndimage.uniform_filter, size=(1, size, size))
            out = run_filter(_first(func), [image], margin=2, tile_size=30, executor=pool)
            np.testing.assert_array_equal(out[0], func(image))


class _first:
    """Adapts a one-array function to the engine's list-in, list-out convention (picklable)."""

    def __init__(self, func):
        self.func = func

    def __call__(self, blocks):
        return [self.func(blocks[0])]
