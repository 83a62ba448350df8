"""The cloud-detection service: one tile of a scene in, its cloud mask and cloud fraction out.

A tile is an ImageRef {href, window, margin}. The runtime reads the window grown by the margin
(clipped at the scene's borders) as a `RefImage`, which also says where the window sits in the
scene. The detector runs on the whole block read and the mask is cropped back to the window, so
every pixel of the window was classified with its full context. For the spectral detector, whose
reach is bounded (`detector.margin` pixels), the tile's mask is then exactly the whole scene's
mask on the window: the merge of all tiles equals one run on the whole scene. A tile whose
context is shorter than that reach on a side that is not the scene's border would break this
silently, so it is refused with a message naming both values. The CNN's margin is only advisory
(its result depends on where the image is cut anyway): a short one is logged, not refused.

Per call, `sensor` picks another sensor profile than the service's config (its detector is built
once and kept) and `sun_elevation` gives the scene's sun elevation that Landsat digital numbers
need. When the file describes its bands, the descriptions are checked against the band order.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import numpy as np
from pesto_factory.runtime import GeoImage, report_progress
from pesto_factory.runtime.errors import BadRequest
from pesto_factory.runtime.imageio import RefImage

from .bands import NODATA
from .detector import CloudDetector, check_bands, cloud_fraction, load_config, make_detector
from .sensors import get_sensor

__all__ = ["Process"]

logger = logging.getLogger(__name__)

_SIDES = ("top", "left", "bottom", "right")


class Process:
    def on_start(self, config: dict[str, Any] | None = None) -> None:
        """Build the configured detector once per worker (loads the CNN for `dl`)."""
        self.raw_config = dict(config or {})
        self.config = load_config(self.raw_config)
        self.detector = make_detector(self.config)
        self.detectors: dict[str, CloudDetector] = {self.config.inputs.sensor: self.detector}
        self.exact = self.config.algorithm == "spectral"
        logger.info("cloud detector %s ready (margin %d)", self.config.algorithm,
                    self.detector.margin)

    def process(self, tile: RefImage, sensor: str | None = None,
                sun_elevation: float | None = None) -> dict[str, Any]:
        detector = self._detector(sensor, sun_elevation)
        window, scene_shape = _placement(tile)
        self._check_context(tile, window, scene_shape, detector.margin)
        check_bands(detector, getattr(tile, "band_names", None))
        report_progress(10, "tile read")
        # The detectors' own PestoError subclasses reach the client with their status: the
        # worker sends them as their nearest shared class (runtime/jobs/worker.py).
        mask = detector.detect(tile.data, nodata=tile.nodata)
        report_progress(90, "detected")
        core = GeoImage(mask[np.newaxis], crs=tile.crs, transform=tile.transform, nodata=NODATA,
                        margin=tile.margin).core()
        return {
            "mask": core,
            "window": window,
            "cloud_fraction": cloud_fraction(core.data[0]),
            "valid_pixels": int(np.count_nonzero(core.data[0] != NODATA)),
        }

    def _detector(self, sensor: str | None, sun_elevation: float | None) -> CloudDetector:
        """The detector for this call's sensor (built once per sensor) and sun elevation."""
        name = get_sensor(sensor).name if sensor else self.config.inputs.sensor
        if name not in self.detectors:
            config = load_config({**self.raw_config, "sensor": name})
            if config.algorithm == "dl" and config.dl == self.config.dl:  # same model: share it
                self.detectors[name] = self.detector.with_inputs(config.inputs)
            else:
                self.detectors[name] = make_detector(config)
            logger.info("cloud detector for sensor %s ready", name)
        detector = self.detectors[name]
        if sun_elevation is None:
            return detector
        return detector.with_inputs(replace(detector.inputs, sun_elevation=sun_elevation))

    def _check_context(self, tile: GeoImage, window: dict[str, int],
                       scene_shape: tuple[int, int], required: int) -> None:
        """Refuse (or, for the CNN, log) a tile read with less context than the detector needs."""
        rows, cols = scene_shape
        to_border = (window["row_off"], window["col_off"],
                     rows - window["row_off"] - window["height"],
                     cols - window["col_off"] - window["width"])
        short = [side for side, read, border in zip(_SIDES, tile.margin, to_border, strict=True)
                 if read < min(required, border)]
        if not short:
            return
        asked = getattr(tile, "ref_margin", 0)
        where = " ".join(f"{key}={value}" for key, value in window.items())
        message = (f"tile margin {asked} is smaller than the {required} pixels of context the "
                   f"{self.config.algorithm} detector needs (short on the {', '.join(short)} of "
                   f"window {where}, which is not at the scene's border there): the merged mask "
                   "would not equal the whole scene's")
        if self.exact:
            raise BadRequest(message, hint=f"cut the tiles with margin >= {required}")
        logger.warning("%s", message)


def _placement(tile: GeoImage) -> tuple[dict[str, int], tuple[int, int]]:
    """The tile's window in scene pixels and the scene's (rows, cols).

    A tile given as a raw image (not an ImageRef) is a whole scene of its own.
    """
    if isinstance(tile, RefImage) and tile.window is not None:
        return tile.window.as_dict(), tile.raster_shape
    rows, cols = tile.shape[1:]
    return {"col_off": 0, "row_off": 0, "width": cols, "height": rows}, (rows, cols)
