"""Merge: the cloud-detection results of every tile of a scene made into one scene mask.

The scene is read from its header only (`"x-pesto-read": "header"`): it gives the mask's size,
CRS and transform. The tile results are the cloud-detection service's outputs, in any order;
the runtime reads each tile's mask (an ImageRef to a COG) and `mosaic` puts it at its window,
checking that the windows cover the scene exactly. The answer: the scene mask as one COG
georeferenced like the scene (nodata 255), the scene's cloud fraction over its pixels with data,
and a PNG quicklook.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from pesto_factory.runtime import GeoImage, report_progress
from pesto_factory.runtime.imageio import ImageHeader

from .mosaic import NODATA, mosaic
from .quicklook import quicklook

__all__ = ["Process", "CLOUD"]

logger = logging.getLogger(__name__)

CLOUD = 1


class Process:
    def process(self, scene: ImageHeader, tiles: list[dict[str, Any]]) -> dict[str, Any]:
        report_progress(10, f"{len(tiles)} tile masks read")
        mask = mosaic(tiles, height=scene.height, width=scene.width)
        report_progress(60, "tiles placed")
        valid = int(np.count_nonzero(mask != NODATA))
        fraction = float(np.count_nonzero(mask == CLOUD)) / valid if valid else None
        logger.info("merged %d tiles into a %d x %d mask, cloud fraction %s", len(tiles),
                    scene.width, scene.height, fraction)
        return {
            "mask": GeoImage(mask[np.newaxis], crs=scene.crs, transform=scene.transform,
                             nodata=NODATA),
            "cloud_fraction": fraction,
            "quicklook": quicklook(mask),
        }
