"""One entry point for a service: the config object, a detector factory and the cloud fraction.

The service's config (pesto/api/config.json, profiles merged) is one object:

    {"algorithm": "spectral" | "dl",
     "band_order": [...], "scale": null, "offset": 0.0, "nodata": null,
     "spectral": {CloudMaskParams fields}, "dl": {CsmaskParams fields}}

`make_detector` builds the chosen detector once (on_start); each detector has `margin` (pixels of
context a tile needs) and `detect(image, nodata=, valid=)` returning the class-coded uint8 mask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .bands import CLOUD, NODATA, InputSpec, InvalidParametersError
from .cloudmask import CloudMaskParams, detect_clouds
from .cloudmask import required_margin as spectral_margin
from .csmask_model import CsmaskModel, CsmaskParams

__all__ = [
    "ALGORITHMS",
    "CloudDetector",
    "DetectorConfig",
    "SpectralDetector",
    "load_config",
    "make_detector",
    "cloud_fraction",
]

ALGORITHMS = ("spectral", "dl")
_INPUT_KEYS = ("band_order", "scale", "offset", "nodata")


class CloudDetector(Protocol):
    margin: int

    def detect(
        self, image: np.ndarray, *, nodata: float | None = None, valid: np.ndarray | None = None
    ) -> np.ndarray: ...


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
    """Parse the service config object; any unknown key or bad value names itself."""
    config = dict(config or {})
    known = {"algorithm", "spectral", "dl", *_INPUT_KEYS}
    unknown = sorted(set(config) - known)
    if unknown:
        raise InvalidParametersError(f"unknown config key(s) {unknown}; known: {sorted(known)}")
    return DetectorConfig(
        algorithm=config.get("algorithm", "spectral"),
        inputs=InputSpec.from_config({k: config[k] for k in _INPUT_KEYS if k in config}),
        spectral=CloudMaskParams.from_config(config.get("spectral") or {}),
        dl=CsmaskParams.from_config(config.get("dl") or {}),
    )


class SpectralDetector:
    """The spectral detector with its parameters bound: a pure function, nothing to load."""

    def __init__(self, params: CloudMaskParams, inputs: InputSpec) -> None:
        self.params, self.inputs = params, inputs
        self.margin = spectral_margin(params)

    def detect(
        self, image: np.ndarray, *, nodata: float | None = None, valid: np.ndarray | None = None
    ) -> np.ndarray:
        return detect_clouds(image, params=self.params, inputs=self.inputs, nodata=nodata,
                             valid=valid)


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
