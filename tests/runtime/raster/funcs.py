"""Module-level block functions for the engine tests (worker processes must unpickle them)."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
from scipy import ndimage


def uniform5(blocks: list[np.ndarray]) -> list[np.ndarray]:
    return [ndimage.uniform_filter(blocks[0], size=(1, 5, 5))]


def median7(blocks: list[np.ndarray]) -> list[np.ndarray]:
    return [ndimage.median_filter(blocks[0], size=(1, 7, 7))]


def opening(blocks: list[np.ndarray]) -> list[np.ndarray]:
    structure = np.ones((1, 5, 5), bool)
    return [ndimage.binary_opening(blocks[0] > 500, structure=structure, iterations=2)]


def wide_gaussian(blocks: list[np.ndarray]) -> list[np.ndarray]:
    """Radius 12 (sigma 3, truncate 4): needs a margin larger than the small test tiles."""
    return [ndimage.gaussian_filter(blocks[0].astype(np.float64), sigma=(0, 3, 3), truncate=4.0)]


def two_in_two_out(blocks: list[np.ndarray]) -> list[np.ndarray]:
    """Band math and a local maximum from two inputs; outputs of different bands and dtypes."""
    a, b = (block.astype(np.float32) for block in blocks)
    ratio = (a[0] - b[0]) / (a[0] + b[0] + 1)
    peak = ndimage.maximum_filter(blocks[1], size=(1, 3, 3)).astype(np.uint16)
    return [ratio, peak]


def core_sized(blocks: list[np.ndarray]) -> list[np.ndarray]:
    """Returns the core only (margin 1 known to the function)."""
    out = ndimage.uniform_filter(blocks[0], size=(1, 3, 3))
    return [out[:, 1:-1, 1:-1]]


def fixed_shape_uniform(blocks: list[np.ndarray]) -> list[np.ndarray]:
    """Like a CNN: refuses any block that is not the padded fixed size."""
    if blocks[0].shape[1:] != (24, 24):
        raise ValueError(f"expected 24 x 24 blocks, got {blocks[0].shape}")
    return [ndimage.uniform_filter(blocks[0], size=(1, 5, 5), mode="reflect")]


def slow_first_tiles(blocks: list[np.ndarray]) -> list[np.ndarray]:
    """Tiles near the top-left take longest, so tiles finish roughly in reverse order.

    Input band 0 holds row numbers and band 1 column numbers; the outputs echo them.
    """
    row, col = int(blocks[0][0].min()), int(blocks[0][1].min())
    time.sleep(max(0.0, 0.15 - 0.002 * (row + col)))
    return [blocks[0]]


def fails_on_marker(blocks: list[np.ndarray]) -> list[np.ndarray]:
    """Raises on the tile whose block holds the marker value 7777."""
    if (blocks[0] == 7777).any():
        raise RuntimeError("sensor glitch")
    return [blocks[0]]


def wrong_shape(blocks: list[np.ndarray]) -> list[np.ndarray]:
    return [blocks[0][:, :-1]]


def writes_in_place(blocks: list[np.ndarray]) -> list[np.ndarray]:
    blocks[0][...] = 0
    return [blocks[0]]


def valid_count(blocks: list[np.ndarray]) -> int:
    return int((blocks[0] > 0).sum())


def identity(blocks: list[np.ndarray]) -> list[np.ndarray]:
    return [blocks[0]]


def dies_on_marker(blocks: list[np.ndarray]) -> list[np.ndarray]:
    """Kills its own process on the marker, as the kernel's OOM killer would."""
    if (blocks[0] == 7777).any():
        os.kill(os.getpid(), signal.SIGKILL)
    return [blocks[0]]
