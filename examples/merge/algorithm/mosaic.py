"""Placing tile masks into the scene: every pixel covered by exactly one tile, or a clear error.

Each tile result says where its mask goes (`window`, in scene pixels; read as the runtime's
`Window`, the one window type from the tiling engine to `RefImage`). Tiles may come in any
order; what matters is that their windows cover the scene exactly. A pixel covered twice, or not
at all, means the fan-out lost or repeated a tile: the merge then fails (UnprocessableInput,
422) naming the windows rather than answering with a mask that is partly nodata or partly
overwritten. (The error is the runtime's own class: one defined here would not unpickle in the
service process.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pesto_factory.runtime.errors import UnprocessableInput
from pesto_factory.runtime.raster.windows import Window

__all__ = ["NODATA", "Placed", "mosaic"]

NODATA = 255
_SHOWN = 5  # windows named in one error message at most


@dataclass(frozen=True)
class Placed:
    """One tile's window in the scene (the runtime's `Window`) and how it was described."""

    index: int
    window: Window
    label: str


def _window_label(index: int, window: Window) -> str:
    return (f"tiles[{index}] window col_off={window.col_off} row_off={window.row_off} "
            f"width={window.width} height={window.height}")


def _place(index: int, result: Mapping[str, Any], shape: tuple[int, int]) -> tuple[Placed, np.ndarray]:
    """A tile's window checked against the scene and against its mask."""
    window = Window.from_dict(result["window"])
    label = _window_label(index, window)
    if window.row_stop > shape[0] or window.col_stop > shape[1]:
        raise UnprocessableInput(f"{label} reaches outside the {shape[1]} x {shape[0]} scene")
    mask = np.asarray(result["mask"])
    if mask.ndim == 3 and mask.shape[0] == 1:
        mask = mask[0]
    if mask.ndim != 2 or mask.shape != window.shape:
        raise UnprocessableInput(f"{label}: its mask is {_shape(mask)}, not the window's "
                                 f"{window.width} x {window.height}")
    if mask.dtype != np.uint8:
        raise UnprocessableInput(f"{label}: its mask is {mask.dtype}, not uint8 class codes")
    return Placed(index, window, label), mask


def _shape(mask: np.ndarray) -> str:
    if mask.ndim == 3:
        return f"{mask.shape[0]} bands of {mask.shape[2]} x {mask.shape[1]}"
    return " x ".join(map(str, mask.shape[::-1]))


def _overlapping(placed: Placed, earlier: Sequence[Placed]) -> list[str]:
    return [other.label for other in earlier if other.window.intersects(placed.window)]


def mosaic(results: Sequence[Mapping[str, Any]], *, height: int, width: int) -> np.ndarray:
    """The (height, width) uint8 scene mask from tile results {mask, window}, in any order."""
    out = np.full((height, width), NODATA, dtype=np.uint8)
    covered = np.zeros((height, width), dtype=bool)
    done: list[Placed] = []
    for index, result in enumerate(results):
        placed, mask = _place(index, result, (height, width))
        where = placed.window.slices
        if covered[where].any():
            others = _overlapping(placed, done)
            raise UnprocessableInput(f"{placed.label} overlaps {'; '.join(others[:_SHOWN])}",
                             hint="each pixel must come from exactly one tile")
        out[where] = mask
        covered[where] = True
        done.append(placed)
    if not covered.all():
        raise UnprocessableInput(_holes_message(covered, height, width),
                         hint="a tile is missing: send every tile result of the fan-out")
    return out


def _holes_message(covered: np.ndarray, height: int, width: int) -> str:
    """Where no tile landed: pixel count and the bounding window of the holes."""
    rows = np.flatnonzero(~covered.all(axis=1))
    cols = np.flatnonzero(~covered.all(axis=0))
    missing = int(covered.size - np.count_nonzero(covered))
    return (f"{missing} pixels of the {width} x {height} scene are covered by no tile, "
            f"within window col_off={cols[0]} row_off={rows[0]} width={cols[-1] - cols[0] + 1} "
            f"height={rows[-1] - rows[0] + 1}")
