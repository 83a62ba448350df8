"""Blocks: the pixels of one tile's read window, as an algorithm receives them.

A block is a (bands, rows, cols) array read with a tile's read window. Tiles at the image
border have a clipped read window, so their blocks are smaller; an algorithm that needs a fixed
input size (a CNN, say) pads them with `pad_block`. Padding only ever happens on a side where
the image ends, so it stands for "what lies beyond the image", and the algorithm chooses what
that is. After processing, `crop_to_core` keeps the pixels the tile is responsible for.

Pad modes use NumPy's names. Their scipy.ndimage equivalents, for an algorithm that wants the
same border handling as a whole-image scipy call: "symmetric" is scipy's "reflect"
(d c b a | a b c d), "reflect" is scipy's "mirror" (d c b | a b c d), "edge" is "nearest",
"constant" is "constant", "wrap" is "wrap".
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
from pesto_factory.runtime.raster.errors import TilingError
from pesto_factory.runtime.raster.windows import Tile

__all__ = ["PadMode", "pad_block", "crop_to_core"]

PadMode = Literal["symmetric", "reflect", "edge", "constant", "wrap"]


def pad_block(block: np.ndarray, tile: Tile, *, margin: int, shape: tuple[int, int],
              mode: PadMode = "symmetric", cval: float = 0) -> np.ndarray:
    """Pad a block read with `tile.read` to `shape`, so that its core starts at (margin, margin).

    `margin` is the grid's margin and `shape` usually `TileGrid.block_shape`. The result has the
    same number of dimensions as `block` ((rows, cols) or (bands, rows, cols)).
    """
    if mode not in get_args(PadMode):
        raise TilingError("mode", mode, f"one of {', '.join(get_args(PadMode))}")
    if block.shape[-2:] != tile.read.shape:
        raise TilingError("block shape", block.shape,
                          f"(..., {tile.read.height}, {tile.read.width}) to match tile {tile.index}")
    inner = tile.core_in_read
    top, left = margin - inner.row_off, margin - inner.col_off
    bottom = shape[0] - tile.read.height - top
    right = shape[1] - tile.read.width - left
    if min(top, left, bottom, right) < 0:
        raise TilingError("shape", shape, f"large enough for tile {tile.index} with margin {margin}")
    widths = [(0, 0)] * (block.ndim - 2) + [(top, bottom), (left, right)]
    if mode == "constant":
        return np.pad(block, widths, mode="constant", constant_values=cval)
    return np.pad(block, widths, mode=mode)


def crop_to_core(block: np.ndarray, tile: Tile, *, padded_margin: int | None = None) -> np.ndarray:
    """The core of a processed block (a view, no copy).

    Without `padded_margin` the block has the read window's size; with it, the block was padded
    by `pad_block` and its core starts at (padded_margin, padded_margin).
    """
    if padded_margin is None:
        if block.shape[-2:] != tile.read.shape:
            raise TilingError("block shape", block.shape,
                              f"(..., {tile.read.height}, {tile.read.width}) for tile {tile.index}")
        rows, cols = tile.core_in_read.slices
    else:
        rows = slice(padded_margin, padded_margin + tile.core.height)
        cols = slice(padded_margin, padded_margin + tile.core.width)
        if block.shape[-2] < rows.stop or block.shape[-1] < cols.stop:
            raise TilingError("block shape", block.shape,
                              f"at least (..., {rows.stop}, {cols.stop}) for tile {tile.index}")
    return block[..., rows, cols]
