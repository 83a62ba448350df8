"""Input contract shared by the cloud detectors: band order, scaling, nodata and class codes.

An input image is a (C, H, W) array whose C bands are named, in order, by `InputSpec.band_order`.
Float arrays are top-of-atmosphere reflectance; integer arrays are digital numbers turned into
reflectance as `DN * scale + offset` (Sentinel-2 L1C: scale 1/10000, and offset -0.1 for
processing baseline 04.00 and later). A pixel is nodata when any band equals the nodata value or
is not finite, or when the caller's validity mask says so; detectors write `NODATA` there.

Every detector returns a uint8 (H, W) mask with the same class codes, whatever its method.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from pesto_factory.runtime.errors import BadRequest, UnprocessableInput

__all__ = [
    "CLEAR",
    "CLOUD",
    "SHADOW",
    "NODATA",
    "DEFAULT_BAND_ORDER",
    "InputSpec",
    "InvalidImageError",
    "InvalidParametersError",
    "Reflectance",
    "prepare_reflectance",
    "canonical_band",
    "dataclass_from_mapping",
]

CLEAR, CLOUD, SHADOW, NODATA = 0, 1, 2, 255
DEFAULT_BAND_ORDER: tuple[str, ...] = ("blue", "green", "red", "nir", "swir1", "swir2")

# Other common spellings of the canonical names (Sentinel-2 band ids, ukis-csmask names).
_ALIASES = {
    "b02": "blue", "b2": "blue",
    "b03": "green", "b3": "green",
    "b04": "red", "b4": "red",
    "b08": "nir", "b8": "nir",
    "b11": "swir1", "swir16": "swir1",
    "b12": "swir2", "swir22": "swir2",
}


class InvalidImageError(UnprocessableInput, ValueError):
    """The image cannot be used: wrong shape, band count or dtype (also a ValueError)."""


class InvalidParametersError(BadRequest, ValueError):
    """A configuration value is unknown or out of range; the message names the field."""


def canonical_band(name: str) -> str:
    key = str(name).strip().lower()
    return _ALIASES.get(key, key)


@dataclass(frozen=True)
class InputSpec:
    """How to read an input image: band names in order, DN scaling and nodata value."""

    band_order: tuple[str, ...] = DEFAULT_BAND_ORDER
    scale: float | None = None  # None: 1.0 for float input, 1/10000 for integer input
    offset: float = 0.0
    nodata: float | None = None

    def __post_init__(self) -> None:
        order = tuple(canonical_band(b) for b in self.band_order)
        if not order:
            raise InvalidParametersError("band_order is empty")
        duplicates = sorted({b for b in order if order.count(b) > 1})
        if duplicates:
            raise InvalidParametersError(f"band_order names {duplicates} more than once: {order}")
        object.__setattr__(self, "band_order", order)
        if self.scale is not None and not (np.isfinite(self.scale) and self.scale > 0):
            raise InvalidParametersError(f"scale must be a positive number, got {self.scale!r}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> InputSpec:
        """Build from a config mapping (keys: band_order, scale, offset, nodata)."""
        return dataclass_from_mapping(cls, config, what="input")


def dataclass_from_mapping(cls: type, config: Mapping[str, Any], *, what: str) -> Any:
    """Instantiate a frozen dataclass from a mapping, naming any unknown key or bad value."""
    if not isinstance(config, Mapping):
        raise InvalidParametersError(f"{what} config must be an object, got {type(config).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(config) - set(known))
    if unknown:
        raise InvalidParametersError(
            f"unknown {what} parameter(s) {unknown}; known: {sorted(known)}"
        )
    values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in config.items()}
    try:
        return cls(**values)
    except InvalidParametersError:
        raise
    except (TypeError, ValueError) as exc:
        raise InvalidParametersError(f"invalid {what} parameters {dict(config)}: {exc}") from exc


@dataclass(frozen=True)
class Reflectance:
    """Named float32 reflectance bands (H, W) and the validity mask of the pixels."""

    bands: Mapping[str, np.ndarray]
    valid: np.ndarray  # bool (H, W), True where every band holds data

    def __getitem__(self, name: str) -> np.ndarray:
        return self.bands[name]

    def stack(self, names: Sequence[str]) -> np.ndarray:
        """(len(names), H, W) float32 in the requested order."""
        return np.stack([self.bands[n] for n in names])


def _check_shape(image: np.ndarray, spec: InputSpec, required: Sequence[str]) -> None:
    if not isinstance(image, np.ndarray):
        raise InvalidImageError(f"image must be a numpy array, not {type(image).__name__}")
    if image.ndim != 3:
        raise InvalidImageError(f"image must be (bands, rows, cols), got shape {image.shape}")
    if image.shape[0] != len(spec.band_order):
        raise InvalidImageError(
            f"image has {image.shape[0]} band(s) but band_order names {len(spec.band_order)}: "
            f"{list(spec.band_order)}; this detector needs bands {list(required)}"
        )
    missing = [b for b in required if b not in spec.band_order]
    if missing:
        raise InvalidImageError(
            f"band_order {list(spec.band_order)} lacks {missing}; this detector needs bands "
            f"{list(required)}"
        )
    if not (np.issubdtype(image.dtype, np.floating) or np.issubdtype(image.dtype, np.integer)):
        raise InvalidImageError(f"image dtype {image.dtype} is neither float nor integer")


def prepare_reflectance(
    image: np.ndarray,
    spec: InputSpec,
    *,
    required: Sequence[str],
    nodata: float | None = None,
    valid: np.ndarray | None = None,
) -> Reflectance:
    """Check the image against the spec and return the required bands as reflectance.

    `nodata` overrides the spec's value (a file's own nodata tag); `valid` is an optional boolean
    (H, W) mask, False where the pixel must be treated as nodata.
    """
    _check_shape(image, spec, required)
    nodata = spec.nodata if nodata is None else nodata
    if spec.scale is not None:
        scale = spec.scale
    else:
        scale = 1.0 if np.issubdtype(image.dtype, np.floating) else 1e-4
    ok = np.ones(image.shape[1:], dtype=bool)
    if valid is not None:
        if valid.shape != image.shape[1:]:
            raise InvalidImageError(
                f"valid mask shape {valid.shape} does not match image rows/cols {image.shape[1:]}"
            )
        ok &= valid.astype(bool)
    bands: dict[str, np.ndarray] = {}
    for name in required:
        raw = image[spec.band_order.index(name)]
        if nodata is not None:  # a NaN nodata matches nothing here: isfinite catches it
            ok &= raw != nodata
        band = raw.astype(np.float32) * np.float32(scale) + np.float32(spec.offset)
        ok &= np.isfinite(band)
        bands[name] = band
    return Reflectance(bands=bands, valid=ok)
