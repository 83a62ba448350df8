"""Tiling: cut a scene into tiles that carry a stability margin, as ImageRefs for a fan-out.

The scene is read from its header only: its input schema asks the runtime for an `ImageHeader`
(`"x-pesto-read": "header"`), so the answer is instant even on a 10980 x 10980 scene. The grid is
`pesto_factory.runtime.raster.regular_grid`: cores of `tile_size` pixels square (smaller in the last row and
column when `tile_size` does not divide the scene) that cover the scene exactly, without overlap.
Each tile is an ImageRef {href: the scene, window: its core, margin}: the service that receives
it reads the core grown by the margin, clipped at the scene's borders, and answers for the core
only, so the merged results equal one run on the whole scene for any operator whose reach is at
most the margin.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from pesto_factory.runtime.errors import BadRequest
from pesto_factory.runtime.imageio import ImageHeader
from pesto_factory.runtime.raster import regular_grid

__all__ = ["MAX_TILES", "Process"]

logger = logging.getLogger(__name__)

#: More tiles than this is a mistake (a tile_size of a few pixels on a large scene), not a plan.
MAX_TILES = 100_000


class Process:
    def process(self, scene: ImageHeader, tile_size: int = 1024, margin: int = 40) -> dict:
        if scene.window is not None:
            raise BadRequest(
                "input 'scene': tiling covers the whole scene; give it without a window "
                f"(got col_off={scene.window.col_off} row_off={scene.window.row_off} "
                f"width={scene.window.width} height={scene.window.height})")
        count = math.ceil(scene.height / tile_size) * math.ceil(scene.width / tile_size)
        if count > MAX_TILES:
            raise BadRequest(
                f"tile_size={tile_size} cuts the {scene.width} x {scene.height} scene into "
                f"{count} tiles; at most {MAX_TILES} are allowed",
                hint="use a larger tile_size")
        grid = regular_grid(scene.height, scene.width, tile_size=tile_size, margin=margin)
        tiles = [_tile_ref(scene, tile.core.as_dict(), margin) for tile in grid]
        logger.info("%d x %d scene: %d tiles of %d px, margin %d", scene.width, scene.height,
                    len(tiles), tile_size, margin)
        return {"tiles": tiles, "width": scene.width, "height": scene.height, "count": len(tiles)}


def _tile_ref(scene: ImageHeader, core: dict[str, int], margin: int) -> dict[str, Any]:
    """One tile as an ImageRef; the scene's band selection, if any, goes with it."""
    ref: dict[str, Any] = {"href": scene.href, "window": core, "margin": margin}
    if scene.bands is not None:
        ref["bands"] = list(scene.bands)
    return ref
