"""Sensor profiles: what differs between Sentinel-2 L1C and Landsat-8/9 Collection 2 L1 input.

One detector, several sensors. A sensor fixes how its files are read (band ids -> canonical
bands, the default band order of its files, DN -> top-of-atmosphere reflectance, fill value) and
which detector parameters were fitted to it (spectral thresholds; the CNN's product level). The
service picks one with the config key `sensor` (the `landsat8` profile's config.landsat8.json
sets it, and cascades with `dl`: `-p dl landsat8`) or per call with the `sensor` input.

Explicit config keys (band_order, scale, offset, nodata, spectral.*, dl.*) override the sensor's
values: the sensor gives defaults, the config has the last word.

Reflectance scaling of integer input (float input is taken as reflectance already):
- Sentinel-2 L1C: DN / 10000 (QUANTIFICATION_VALUE); from processing baseline 04.00 on the
  products add RADIO_ADD_OFFSET -1000 DN: set `offset` -0.1. TOA reflectance is sun-corrected.
- Landsat-8/9 C2 L1: DN * 2.0e-5 - 0.1 (REFLECTANCE_MULT_BAND_x / REFLECTANCE_ADD_BAND_x of the
  MTL, the same for every reflective band), then / sin(SUN_ELEVATION): the scene's sun elevation
  is needed (input or config `sun_elevation`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .bands import SENTINEL2_BAND_IDS, InvalidParametersError

__all__ = ["Sensor", "SENSORS", "get_sensor"]


@dataclass(frozen=True)
class Sensor:
    """How a sensor's L1 files are read, and the detector parameters fitted to it."""

    name: str
    title: str
    band_ids: tuple[tuple[str, str], ...]  # lower-case band id -> canonical name
    band_order: tuple[str, ...]  # the bands of the sensor's usual 6-band stack, in order
    dn_scale: float
    dn_offset: float
    nodata: float | None
    sun_correction: bool  # L1 reflectance must be divided by sin(sun elevation)
    spectral: Mapping[str, Any] = field(default_factory=dict)  # fitted CloudMaskParams
    dl: Mapping[str, Any] = field(default_factory=dict)  # CsmaskParams for this sensor


_LANDSAT_OLI_BAND_IDS = (
    ("b2", "blue"), ("b3", "green"), ("b4", "red"), ("b5", "nir"), ("b6", "swir1"),
    ("b7", "swir2"), ("b9", "cirrus"),
)

SENSORS: dict[str, Sensor] = {
    "sentinel2": Sensor(
        name="sentinel2", title="Sentinel-2 MSI L1C",
        band_ids=SENTINEL2_BAND_IDS,
        band_order=("B02", "B03", "B04", "B08", "B11", "B12"),
        dn_scale=1e-4, dn_offset=0.0, nodata=0, sun_correction=False,
        # The CloudMaskParams defaults were fitted on the top half of the Sentinel-2 crop.
        spectral={},
        dl={"product_level": "l1c"},
    ),
    "landsat8": Sensor(
        name="landsat8", title="Landsat-8/9 OLI Collection 2 L1",
        band_ids=_LANDSAT_OLI_BAND_IDS,
        band_order=("B2", "B3", "B4", "B5", "B6", "B7"),
        dn_scale=2e-5, dn_offset=-0.1, nodata=0, sun_correction=True,
        # Chosen on the top half of the Landsat-8 crop by benchmarks/fit_thresholds.py, with
        # and without its cirrus band B9 (the bottom half held out); whiteness, NDSI and the
        # shadow tests keep the Sentinel-2 values (the crop's reference has no shadow class).
        spectral={"brightness_min": 0.10, "hot_min": -0.03, "swir2_min": 0.09,
                  "cirrus_min": 0.02, "open_radius": 0, "close_radius": 1, "dilate_radius": 1},
        dl={"product_level": "l1c"},
    ),
}
SENSORS["landsat9"] = SENSORS["landsat8"]  # OLI-2: same bands, same rescaling


def get_sensor(name: str) -> Sensor:
    """The named sensor profile; an unknown name is a 400 naming the known ones."""
    try:
        return SENSORS[str(name).strip().lower()]
    except KeyError:
        raise InvalidParametersError(
            f"unknown sensor {name!r}; known: {sorted(SENSORS)}") from None
