"""A quicklook of a class mask: an RGBA picture of at most 1024 pixels on its longer side.

Colours: clear transparent, cloud white, cloud shadow dark blue, nodata black; any other code
magenta, so a wrong code shows. The mask is subsampled (nearest, the pixel at the centre of
each block) rather than averaged: class codes are categories, not quantities.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MAX_SIDE", "PALETTE", "quicklook"]

MAX_SIDE = 1024

PALETTE = np.tile(np.array([255, 0, 255, 255], dtype=np.uint8), (256, 1))  # unknown: magenta
PALETTE[0] = (0, 0, 0, 0)  # clear: transparent
PALETTE[1] = (255, 255, 255, 255)  # cloud: white
PALETTE[2] = (0, 0, 139, 255)  # cloud shadow: dark blue
PALETTE[255] = (0, 0, 0, 255)  # nodata: black


def quicklook(mask: np.ndarray, *, max_side: int = MAX_SIDE) -> np.ndarray:
    """(4, rows, cols) uint8 RGBA rendering of a (rows, cols) uint8 mask, longer side <= max_side."""
    step = max(1, math.ceil(max(mask.shape) / max_side))
    small = mask[step // 2::step, step // 2::step] if step > 1 else mask
    return np.ascontiguousarray(np.moveaxis(PALETTE[small], -1, 0))
