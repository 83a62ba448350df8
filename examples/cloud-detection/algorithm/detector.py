"""One entry point for a service: the config object, a detector factory and the cloud fraction.

The service's config (pesto/api/config.json, profiles merged) is one object:

    {"algorithm": "spectral" | "dl", "sensor": "sentinel2" | "landsat8" | "landsat9",
     "band_order": [...], "scale": null, "offset": null, "nodata": 0, "sun_elevation": null,
     "spectral": {CloudMaskParams fields}, "dl": {CsmaskParams fields}}

The sensor (algorithm/sensors.py) gives the defaults of every other key; keys given win.

`make_detector` builds the chosen detector once (on_start); each detector has `margin` (pixels of
context a tile needs) and `detect(image, nodata=, valid=)` returning the class-coded uint8 mask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .bands import CLOUD, NODATA, InputSpec, InvalidParametersError, check_band_names
from .cloudmask import CloudMaskParams, detect_clouds
from .cloudmask import required_margin as spectral_margin
from .csmask_model import CsmaskModel, CsmaskParams
from .sensors import get_sensor

__all__ = [
    "ALGORITHMS",
    "CloudDetector",
    "DetectorConfig",
    "SpectralDetector",
    "check_bands",
    "load_config",
    "make_detector",
    "cloud_fraction",
]

ALGORITHMS = ("spectral", "dl")
_INPUT_KEYS = ("band_order", "scale", "offset", "nodata", "sun_elevation")


class CloudDetector(Protocol):
    margin: int
    inputs: InputSpec

    def detect(
        self, image: np.ndarray, *, nodata: float | None = None, valid: np.ndarray | None = None
    ) -> np.ndarray: ...

    def with_inputs(self, inputs: InputSpec) -> CloudDetector: ...


@dataclass(frozen=True)
class DetectorConfig:
    """The parsed service config: which detector, how to read bands, and each one's params."""

    algorithm: str = "spectral"
    inputs: InputSpec = field(default_factory=InputSpec)
    spectral: CloudMaskParams = field(default_factory=CloudMaskParams)
    dl: CsmaskParams = field(default_factory=CsmaskParams)

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise InvalidParametersError(
                f"algorithm must be one of {list(ALGORITHMS)}, got {self.algorithm!r}"
            )


def load_config(config: Mapping[str, Any] | None) -> DetectorConfig:
    """Parse the service config object; any unknown key or bad value names itself.

    The sensor's profile supplies every input key and parameter the config leaves out.
    """
    config = dict(config or {})
    known = {"algorithm", "sensor", "spectral", "dl", *_INPUT_KEYS}
    unknown = sorted(set(config) - known)
    if unknown:
        raise InvalidParametersError(f"unknown config key(s) {unknown}; known: {sorted(known)}")
    sensor = get_sensor(config.get("sensor") or "sentinel2")
    given = {k: config[k] for k in _INPUT_KEYS if config.get(k) is not None}
    inputs = {"band_order": sensor.band_order, "nodata": sensor.nodata, **given}
    for key, value in (("spectral", config.get("spectral")), ("dl", config.get("dl"))):
        if value is not None and not isinstance(value, Mapping):
            raise InvalidParametersError(f"{key} config must be an object, got {value!r}")
    return DetectorConfig(
        algorithm=config.get("algorithm", "spectral"),
        inputs=InputSpec.from_config({
            **inputs, "dn_scale": sensor.dn_scale, "dn_offset": sensor.dn_offset,
            "sun_correction": sensor.sun_correction, "band_ids": sensor.band_ids,
            "sensor": sensor.name}),
        spectral=CloudMaskParams.from_config({**sensor.spectral, **(config.get("spectral") or {})}),
        dl=CsmaskParams.from_config({**sensor.dl, **(config.get("dl") or {})}),
    )


class SpectralDetector:
    """The spectral detector with its parameters bound: a pure function, nothing to load."""

    def __init__(self, params: CloudMaskParams, inputs: InputSpec) -> None:
        self.params, self.inputs = params, inputs
        self.margin = spectral_margin(params)

    def with_inputs(self, inputs: InputSpec) -> SpectralDetector:
        """The same detector reading its input another way (e.g. another sun elevation)."""
        return SpectralDetector(self.params, inputs)

    def detect(
        self, image: np.ndarray, *, nodata: float | None = None, valid: np.ndarray | None = None
    ) -> np.ndarray:
        return detect_clouds(image, params=self.params, inputs=self.inputs, nodata=nodata,
                             valid=valid)


def check_bands(detector: CloudDetector, band_names: Any) -> None:
    """422 when the file's band descriptions contradict the detector's band order."""
    check_band_names(detector.inputs, band_names)


def make_detector(config: DetectorConfig | Mapping[str, Any] | None = None) -> CloudDetector:
    """Build the configured detector (loads the CNN for `dl`: call once per worker)."""
    if not isinstance(config, DetectorConfig):
        config = load_config(config)
    if config.algorithm == "spectral":
        return SpectralDetector(config.spectral, config.inputs)
    return CsmaskModel(config.dl, inputs=config.inputs)


def cloud_fraction(mask: np.ndarray) -> float | None:
    """Share of CLOUD among the pixels with data; None when every pixel is nodata."""
    valid = mask != NODATA
    count = int(valid.sum())
    return float((mask[valid] == CLOUD).sum()) / count if count else None
