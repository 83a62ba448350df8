"""Input contract shared by the cloud detectors: band order, scaling, nodata and class codes.

An input image is a (C, H, W) array whose C bands are named, in order, by `InputSpec.band_order`
(canonical names blue, green, red, nir, swir1, swir2, cirrus, or the sensor's band ids, e.g.
Sentinel-2 B02 or Landsat-8 B5, mapped by `InputSpec.band_ids`). Float arrays are
top-of-atmosphere reflectance; integer arrays are digital numbers turned into reflectance with the
sensor's rescaling, `DN * dn_scale + dn_offset` (an explicit `scale`/`offset` replaces it), then
divided by sin(sun elevation) for sensors whose L1 reflectance is not sun-corrected (Landsat). A
pixel is nodata when any band equals the nodata value or is not finite, or when the caller's
validity mask says so; detectors write `NODATA` there. When the file describes its bands,
`check_band_names` refuses a band order that contradicts the descriptions.

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
    "check_band_names",
    "dataclass_from_mapping",
    "CANONICAL_BANDS",
    "SENTINEL2_BAND_IDS",
]

CLEAR, CLOUD, SHADOW, NODATA = 0, 1, 2, 255
DEFAULT_BAND_ORDER: tuple[str, ...] = ("blue", "green", "red", "nir", "swir1", "swir2")

CANONICAL_BANDS = ("blue", "green", "red", "nir", "swir1", "swir2", "cirrus")

# Sentinel-2 MSI band ids (and ukis-csmask's names) -> canonical names: the default mapping.
SENTINEL2_BAND_IDS: tuple[tuple[str, str], ...] = (
    ("b02", "blue"), ("b2", "blue"), ("b03", "green"), ("b3", "green"), ("b04", "red"),
    ("b4", "red"), ("b08", "nir"), ("b8", "nir"), ("b11", "swir1"), ("b12", "swir2"),
    ("b10", "cirrus"), ("swir16", "swir1"), ("swir22", "swir2"),
)


class InvalidImageError(UnprocessableInput, ValueError):
    """The image cannot be used: wrong shape, band count or dtype (also a ValueError)."""


class InvalidParametersError(BadRequest, ValueError):
    """A configuration value is unknown or out of range; the message names the field."""


def canonical_band(name: str, band_ids: tuple[tuple[str, str], ...] = SENTINEL2_BAND_IDS) -> str:
    """The canonical name of a band name or sensor band id (case-insensitive)."""
    key = str(name).strip().lower()
    return dict(band_ids).get(key, key)


@dataclass(frozen=True)
class InputSpec:
    """How to read an input image: band names in order, DN scaling, sun correction and nodata.

    An explicit `scale` (with `offset`) turns any input into reflectance by itself; left None,
    integer input uses the sensor's `dn_scale`/`dn_offset` (`offset` may replace the latter) and,
    for sensors with `sun_correction`, is divided by sin(`sun_elevation` degrees); float input
    is taken as reflectance.
    """

    band_order: tuple[str, ...] = DEFAULT_BAND_ORDER
    scale: float | None = None
    offset: float | None = None
    nodata: float | None = None
    sun_elevation: float | None = None
    dn_scale: float = 1e-4
    dn_offset: float = 0.0
    sun_correction: bool = False
    band_ids: tuple[tuple[str, str], ...] = SENTINEL2_BAND_IDS
    sensor: str = "sentinel2"

    def __post_init__(self) -> None:
        if isinstance(self.band_order, str) or not self.band_order:
            raise InvalidParametersError(f"band_order must be a non-empty list, got {self.band_order!r}")
        order = tuple(canonical_band(b, self.band_ids) for b in self.band_order)
        duplicates = sorted({b for b in order if order.count(b) > 1})
        if duplicates:
            raise InvalidParametersError(f"band_order names {duplicates} more than once: {order}")
        object.__setattr__(self, "band_order", order)
        for name in ("scale", "dn_scale"):
            value = getattr(self, name)
            if value is not None and not (_is_number(value) and value > 0):
                raise InvalidParametersError(f"{name} must be a positive number, got {value!r}")
        for name in ("offset", "nodata"):
            value = getattr(self, name)
            if value is not None and not _is_number(value, finite=name == "offset"):
                raise InvalidParametersError(f"{name} must be a number or null, got {value!r}")
        elevation = self.sun_elevation
        if elevation is not None and not (_is_number(elevation) and 0 < elevation <= 90):
            raise InvalidParametersError(
                f"sun_elevation must be in (0, 90] degrees, got {elevation!r}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> InputSpec:
        """Build from a config mapping (keys: band_order, scale, offset, nodata, sun_elevation)."""
        return dataclass_from_mapping(cls, config, what="input")

    def dn_factors(self) -> tuple[float, float]:
        """(scale, offset) turning this spec's integer input into reflectance, sun included."""
        if self.scale is not None:  # the caller's own factors replace the whole rescaling
            return self.scale, 0.0 if self.offset is None else self.offset
        scale = self.dn_scale
        offset = self.dn_offset if self.offset is None else self.offset
        if not self.sun_correction:
            return scale, offset
        if self.sun_elevation is None:
            raise InvalidImageError(
                f"sensor {self.sensor}: digital numbers need the scene's sun_elevation (degrees, "
                "SUN_ELEVATION in the product's MTL file) to become reflectance; give it as an "
                "input or config value, or give reflectance as float")
        sine = float(np.sin(np.radians(self.sun_elevation)))
        return scale / sine, offset / sine


def _is_number(value: Any, *, finite: bool = True) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return bool(np.isfinite(value)) or not finite


def check_band_names(spec: InputSpec, names: Sequence[str | None] | None) -> None:
    """Refuse (422) a band order that contradicts the file's band descriptions.

    Only descriptions that name a band this spec knows (a canonical name or one of the sensor's
    band ids) are compared; free text and missing descriptions are not evidence either way.
    """
    if not names or len(names) != len(spec.band_order):
        return
    known = {key for key, _ in spec.band_ids} | set(CANONICAL_BANDS)
    other_ids = {key for key, _ in SENTINEL2_BAND_IDS} | {f"b{i}" for i in range(1, 13)}
    wrong = []
    for index, (name, expected) in enumerate(zip(names, spec.band_order, strict=True), start=1):
        key = str(name or "").strip().lower()
        if key in known:
            if canonical_band(key, spec.band_ids) != expected:
                wrong.append(f"band {index} is {name!r} ({canonical_band(key, spec.band_ids)}), "
                             f"band_order says {expected}")
        elif key in other_ids:  # another sensor's band id, e.g. B8 (panchromatic) for Landsat
            wrong.append(f"band {index} is {name!r}, which sensor {spec.sensor} does not use, "
                         f"band_order says {expected}")
    if wrong:
        raise InvalidImageError(
            f"the file's band descriptions contradict band_order {list(spec.band_order)} "
            f"(sensor {spec.sensor}): {'; '.join(wrong)}")


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
    optional: Sequence[str] = (),
    nodata: float | None = None,
    valid: np.ndarray | None = None,
) -> Reflectance:
    """Check the image against the spec and return the required bands as reflectance.

    `optional` bands are returned too when `band_order` has them. `nodata` overrides the spec's
    value (a file's own nodata tag); `valid` is an optional boolean (H, W) mask, False where the
    pixel must be treated as nodata.
    """
    _check_shape(image, spec, required)
    nodata = spec.nodata if nodata is None else nodata
    if np.issubdtype(image.dtype, np.integer):
        scale, offset = spec.dn_factors()
    else:
        scale = 1.0 if spec.scale is None else spec.scale
        offset = 0.0 if spec.offset is None else spec.offset
    ok = np.ones(image.shape[1:], dtype=bool)
    if valid is not None:
        if valid.shape != image.shape[1:]:
            raise InvalidImageError(
                f"valid mask shape {valid.shape} does not match image rows/cols {image.shape[1:]}"
            )
        ok &= valid.astype(bool)
    names = list(required) + [b for b in optional if b in spec.band_order and b not in required]
    bands: dict[str, np.ndarray] = {}
    for name in names:
        raw = image[spec.band_order.index(name)]
        if nodata is not None:  # a NaN nodata matches nothing here: isfinite catches it
            ok &= raw != nodata
        band = raw.astype(np.float32) * np.float32(scale) + np.float32(offset)
        ok &= np.isfinite(band)
        bands[name] = band
    return Reflectance(bands=bands, valid=ok)
