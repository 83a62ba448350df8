"""A quicklook of a class mask: an RGB picture of at most 1024 pixels on its longer side.

Colours: clear dark grey, cloud white, cloud shadow dark blue, nodata black; any other code
magenta, so a wrong code shows. Opaque on purpose: white clouds on a transparent background
vanish in any viewer that shows transparency as white. The mask is subsampled (nearest, the pixel at the centre of
each block) rather than averaged: class codes are categories, not quantities.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MAX_SIDE", "PALETTE", "quicklook"]

MAX_SIDE = 1024

PALETTE = np.tile(np.array([255, 0, 255], dtype=np.uint8), (256, 1))  # unknown: magenta
PALETTE[0] = (64, 64, 64)  # clear: dark grey
PALETTE[1] = (255, 255, 255)  # cloud: white
PALETTE[2] = (0, 0, 139)  # cloud shadow: dark blue
PALETTE[255] = (0, 0, 0)  # nodata: black


def quicklook(mask: np.ndarray, *, max_side: int = MAX_SIDE) -> np.ndarray:
    """(3, rows, cols) uint8 RGB rendering of a (rows, cols) uint8 mask, longer side <= max_side."""
    step = max(1, math.ceil(max(mask.shape) / max_side))
    small = mask[step // 2::step, step // 2::step] if step > 1 else mask
    return np.ascontiguousarray(np.moveaxis(PALETTE[small], -1, 0))
