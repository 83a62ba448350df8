"""Spectral cloud and cloud-shadow detector: per-pixel tests, then a local morphological clean-up.

Cloud tests (all must pass), on top-of-atmosphere reflectance:

- brightness: mean visible reflectance (blue, green, red) above `brightness_min`: clouds are bright;
- whiteness: mean absolute deviation of the visible bands over their mean below `whiteness_max`:
  clouds are flat (white) across the visible spectrum, soils and vegetation are not;
- haze-optimised transform: HOT = blue - 0.5 * red - 0.08 above `hot_min`: clouds and haze raise
  blue more than red, bright soils raise red;
- snow: NDSI = (green - swir1) / (green + swir1) below `ndsi_max`: snow absorbs in SWIR, clouds
  do not, so a high NDSI is snow (or ice), not cloud;
- SWIR: swir2 above `swir2_min`: rejects dark water and deep shadow whose visible is raised by haze.

Thin cirrus fails the brightness test. When the image has a cirrus band (Landsat-8/9 B9,
Sentinel-2 B10: 1.37 um, where the lower atmosphere's water vapour hides the ground) and
`cirrus_min` is set, a pixel whose cirrus reflectance exceeds it is a cloud candidate too.

The candidate cloud mask is opened (removes isolated bright pixels), closed (fills small holes)
and dilated (cloud edges are soft). Shadows are dark in NIR and SWIR1 within `shadow_distance`
pixels of a cloud; they are opened and dilated too, and never overwrite a cloud.

Every step is a pure local operator: the class of a pixel depends only on the input inside a
square of half-size `required_margin(params)` around it (edges are extended by replication). So a
tile read with that margin on each side (clipped at the scene's edges) yields, after cropping the
margin, exactly the pixels the whole scene would give: tiled == whole, bit for bit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import ndimage

from .bands import (
    CLEAR,
    CLOUD,
    NODATA,
    SHADOW,
    InputSpec,
    InvalidParametersError,
    Reflectance,
    dataclass_from_mapping,
    prepare_reflectance,
)

__all__ = ["CloudMaskParams", "REQUIRED_BANDS", "OPTIONAL_BANDS", "required_margin", "detect_clouds"]

log = logging.getLogger(__name__)

REQUIRED_BANDS: tuple[str, ...] = ("blue", "green", "red", "nir", "swir1", "swir2")
OPTIONAL_BANDS: tuple[str, ...] = ("cirrus",)

_RADII = ("open_radius", "close_radius", "dilate_radius", "shadow_distance",
          "shadow_open_radius", "shadow_dilate_radius")


@dataclass(frozen=True)
class CloudMaskParams:
    """Thresholds (reflectance units) and radii (pixels) of the spectral detector.

    Defaults were chosen on the top half of the real Sentinel-2 crop (30 m pixels) from a coarse
    grid of round values; docs/cloud-detection.md gives the procedure and the held-out score.
    Other sensors' values are in algorithm/sensors.py. `cirrus_min` None: no cirrus test.
    """

    brightness_min: float = 0.20
    whiteness_max: float = 0.70
    hot_min: float = 0.03
    ndsi_max: float = 0.40
    swir2_min: float = 0.03
    open_radius: int = 1
    close_radius: int = 2
    dilate_radius: int = 1
    shadow: bool = True
    shadow_nir_max: float = 0.25
    shadow_swir1_max: float = 0.20
    shadow_distance: int = 30
    shadow_open_radius: int = 1
    shadow_dilate_radius: int = 1
    cirrus_min: float | None = None

    def __post_init__(self) -> None:
        for name in _RADII:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 256:
                raise InvalidParametersError(f"{name} must be an integer in [0, 256], got {value!r}")
        if not isinstance(self.shadow, bool):
            raise InvalidParametersError(f"shadow must be true or false, got {self.shadow!r}")
        for name in ("brightness_min", "whiteness_max", "hot_min", "ndsi_max", "swir2_min",
                     "shadow_nir_max", "shadow_swir1_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
                raise InvalidParametersError(f"{name} must be a finite number, got {value!r}")
        cirrus = self.cirrus_min
        if cirrus is not None and (isinstance(cirrus, bool) or not isinstance(cirrus, int | float)
                                   or not np.isfinite(cirrus)):
            raise InvalidParametersError(f"cirrus_min must be a finite number or null, got {cirrus!r}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CloudMaskParams:
        """Build from a config mapping; unknown keys are an error naming them."""
        return dataclass_from_mapping(cls, config, what="spectral")


def required_margin(params: CloudMaskParams) -> int:
    """Pixels of context each side that make a tile's result equal the whole scene's.

    An erosion or dilation of radius r reaches r pixels; an opening or closing 2r. The cloud
    mask reaches `cloud`; the shadow search adds its distance, then its own clean-up.
    """
    cloud = 2 * params.open_radius + 2 * params.close_radius + params.dilate_radius
    if not params.shadow:
        return cloud
    return (cloud + params.shadow_distance + 2 * params.shadow_open_radius
            + params.shadow_dilate_radius)


def detect_clouds(
    image: np.ndarray,
    *,
    params: CloudMaskParams | None = None,
    inputs: InputSpec | None = None,
    nodata: float | None = None,
    valid: np.ndarray | None = None,
) -> np.ndarray:
    """Classify each pixel of a (C, H, W) image: uint8 (H, W) with CLEAR/CLOUD/SHADOW/NODATA.

    `inputs` names the bands and their scaling; `nodata` (overrides `inputs.nodata`) and
    `valid` (bool (H, W), False = nodata) mark pixels that become NODATA.
    """
    params = params or CloudMaskParams()
    refl = prepare_reflectance(image, inputs or InputSpec(), required=REQUIRED_BANDS,
                               optional=OPTIONAL_BANDS, nodata=nodata, valid=valid)
    cloud = _clean_cloud(_potential_cloud(refl, params), params)
    mask = np.where(cloud, CLOUD, CLEAR).astype(np.uint8)
    if params.shadow:
        mask[_shadow(refl, cloud, params)] = SHADOW
    mask[~refl.valid] = NODATA
    log.debug("cloud mask %s: %d cloud, %d shadow, %d nodata pixels", mask.shape,
              int((mask == CLOUD).sum()), int((mask == SHADOW).sum()), int((mask == NODATA).sum()))
    return mask


def _potential_cloud(refl: Reflectance, params: CloudMaskParams) -> np.ndarray:
    """Pixels passing every spectral cloud test (NaN from a zero denominator fails a test)."""
    blue, green, red = refl["blue"], refl["green"], refl["red"]
    with np.errstate(divide="ignore", invalid="ignore"):
        visible = (blue + green + red) / np.float32(3)
        whiteness = (np.abs(blue - visible) + np.abs(green - visible)
                     + np.abs(red - visible)) / visible
        hot = blue - np.float32(0.5) * red - np.float32(0.08)
        ndsi = (green - refl["swir1"]) / (green + refl["swir1"])
        candidate = (
            (visible > params.brightness_min)
            & (whiteness < params.whiteness_max)
            & (hot > params.hot_min)
            & (ndsi < params.ndsi_max)
            & (refl["swir2"] > params.swir2_min)
        )
    if params.cirrus_min is not None and "cirrus" in refl.bands:
        candidate |= refl["cirrus"] > params.cirrus_min
    return candidate & refl.valid


def _clean_cloud(candidate: np.ndarray, params: CloudMaskParams) -> np.ndarray:
    cloud = _dilate(_erode(candidate, params.open_radius), params.open_radius)
    cloud = _erode(_dilate(cloud, params.close_radius), params.close_radius)
    return _dilate(cloud, params.dilate_radius)


def _shadow(refl: Reflectance, cloud: np.ndarray, params: CloudMaskParams) -> np.ndarray:
    """Dark NIR and SWIR1 pixels near a cloud (water is dark too: hence the distance limit)."""
    dark = (refl["nir"] < params.shadow_nir_max) & (refl["swir1"] < params.shadow_swir1_max)
    near = _within(cloud, params.shadow_distance)
    shadow = dark & near & ~cloud & refl.valid
    shadow = _dilate(_erode(shadow, params.shadow_open_radius), params.shadow_open_radius)
    return _dilate(shadow, params.shadow_dilate_radius) & ~cloud


@lru_cache(maxsize=32)
def _disk(radius: int) -> np.ndarray:
    y, x = np.ogrid[-radius:radius + 1, -radius:radius + 1]
    return (x * x + y * y) <= radius * radius


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    if radius == 0:
        return mask
    return ndimage.maximum_filter(mask, footprint=_disk(radius), mode="nearest")


def _erode(mask: np.ndarray, radius: int) -> np.ndarray:
    if radius == 0:
        return mask
    return ndimage.minimum_filter(mask, footprint=_disk(radius), mode="nearest")


def _within(mask: np.ndarray, distance: int) -> np.ndarray:
    """Pixels at Euclidean distance <= `distance` of a True pixel: a disk dilation, but fast."""
    if not mask.any():
        return np.zeros_like(mask)
    if distance == 0:
        return mask.copy()
    return ndimage.distance_transform_edt(~mask) <= distance
