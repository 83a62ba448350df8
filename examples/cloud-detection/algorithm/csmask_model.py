"""The `dl` detector: the ukis-csmask CNN (U-Net, EfficientNet-B4) run with onnxruntime.

The ONNX models and their normalisation statistics ship inside the `ukis-csmask` wheel, so
loading never touches the network. The 6-band model (blue, green, red, nir, swir1, swir2) is used
when the input has those bands, else the 4-band one (blue, green, red, nir). The network sees
256 x 256 patches: the image is cut into overlapping patches (ukis-csmask's own tiling, mirrored
padding at the edges), class probabilities are blended back with a tapered window and the most
probable class wins. Its classes 0 background, 1 cloud, 2 shadow map onto CLEAR, CLOUD, SHADOW.

Inputs are normalised as the models were trained: top-of-atmosphere reflectance (the sensor
profile's rescaling: Sentinel-2 DN / 10000; Landsat-8/9 (DN * 2e-5 - 0.1) / sin(sun elevation),
as ukis-pysat's dn2toa does), then (x - mean) / std with the band statistics of the model's JSON.
The models are multi-sensor (Sentinel-2 and Landsat L1C), so both sensor profiles use the same
6-band (or 4-band) model of the configured product level.

A CNN is not a bounded local operator: its receptive field spans the patch, and the patch grid
depends on the image size. `required_margin` is therefore advisory (docs/benchmarks.md (mask quality)
gives the measured tiled-vs-whole agreement for it), not the bit-exact bound the spectral
detector gives.

Providers are selectable: the `gpu` profile asks for CUDAExecutionProvider first; providers this
onnxruntime build lacks are dropped with a warning, and none usable is a configuration error.
onnxruntime and ukis-csmask are imported when a model is built, so parsing a config stays light.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from .bands import (
    CLEAR,
    CLOUD,
    NODATA,
    SHADOW,
    InputSpec,
    InvalidParametersError,
    canonical_band,
    dataclass_from_mapping,
    prepare_reflectance,
)

__all__ = ["CsmaskParams", "CsmaskModel", "required_margin", "select_providers"]

log = logging.getLogger(__name__)

# ukis-csmask class index -> our class code.
_CLASS_CODES = np.array([CLEAR, CLOUD, SHADOW], dtype=np.uint8)
_SIX_BANDS = ("blue", "green", "red", "nir", "swir1", "swir2")
_FOUR_BANDS = ("blue", "green", "red", "nir")


@dataclass(frozen=True)
class CsmaskParams:
    """Model choice and inference options of the `dl` detector."""

    product_level: str = "l1c"  # "l1c" (top of atmosphere) or "l2a" (surface reflectance)
    providers: tuple[str, ...] = ("CPUExecutionProvider",)
    intra_op_num_threads: int = 0  # 0: onnxruntime decides
    inter_op_num_threads: int = 0
    batch_size: int = 1
    overlap: float = 0.2  # patch overlap, fraction of 256 (ukis-csmask's own value)
    margin: int = 64  # advisory tile margin, pixels

    def __post_init__(self) -> None:
        level = str(self.product_level).lower()
        if level not in ("l1c", "l2a"):
            raise InvalidParametersError(f"product_level must be 'l1c' or 'l2a', got {self.product_level!r}")
        object.__setattr__(self, "product_level", level)
        if isinstance(self.providers, str) or not self.providers:
            raise InvalidParametersError(f"providers must be a non-empty list, got {self.providers!r}")
        object.__setattr__(self, "providers", tuple(self.providers))
        for name, low in (("intra_op_num_threads", 0), ("inter_op_num_threads", 0),
                          ("batch_size", 1), ("margin", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidParametersError(f"{name} must be an integer >= {low}, got {value!r}")
        if not 0.0 <= self.overlap <= 0.5:
            raise InvalidParametersError(f"overlap must be in [0, 0.5], got {self.overlap!r}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CsmaskParams:
        """Build from a config mapping; unknown keys are an error naming them."""
        return dataclass_from_mapping(cls, config, what="dl")


def required_margin(params: CsmaskParams) -> int:
    """Advisory context per tile side (see the module docstring: not a bit-exact bound)."""
    return params.margin


def select_providers(requested: tuple[str, ...]) -> list[str]:
    """The requested providers this onnxruntime build has, in order; error if none."""
    import onnxruntime

    available = onnxruntime.get_available_providers()
    chosen = [p for p in requested if p in available]
    if not chosen:
        raise InvalidParametersError(
            f"none of the requested onnxruntime providers {list(requested)} is available; "
            f"available: {available}"
        )
    dropped = [p for p in requested if p not in available]
    if dropped:
        log.warning("onnxruntime providers %s unavailable, using %s", dropped, chosen)
    return chosen


@dataclass(frozen=True)
class _ModelFiles:
    onnx: bytes
    bands: tuple[str, ...]
    mean: np.ndarray  # (C, 1, 1) float32
    std: np.ndarray
    patch: int
    version: str


def _load_model_files(bands: int, product_level: str) -> _ModelFiles:
    package = resources.files("ukis_csmask")
    stem = f"model_{bands}b_{product_level}"
    meta = json.loads((package / f"{stem}.json").read_text(encoding="utf-8"))
    stats = meta["data"]["dataset_statistics"]
    mean, std = (np.asarray(v, dtype=np.float32)[:, None, None] for v in stats["img"])
    size = meta["data"]["target_size"]
    if size[0] != size[1]:
        raise InvalidParametersError(f"{stem}: non-square patch size {size} is not supported")
    return _ModelFiles(
        onnx=(package / f"{stem}.onnx").read_bytes(),
        bands=tuple(canonical_band(b) for b in stats["band_names"]),
        mean=mean, std=std, patch=int(size[0]), version=str(meta["model"]["version"]),
    )


def _band_count(inputs: InputSpec) -> int:
    """6 when the input has the six bands of the 6-band model, else 4 (the 4-band model)."""
    return 6 if all(b in inputs.band_order for b in _SIX_BANDS) else 4


class CsmaskModel:
    """A loaded ukis-csmask network: build once per worker, call `detect` per image."""

    def __init__(self, params: CsmaskParams | None = None, *, inputs: InputSpec | None = None) -> None:
        self.params = params or CsmaskParams()
        self.inputs = inputs or InputSpec()
        self._model = _load_model_files(_band_count(self.inputs), self.params.product_level)
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.params.intra_op_num_threads
        options.inter_op_num_threads = self.params.inter_op_num_threads
        self.session = onnxruntime.InferenceSession(
            self._model.onnx, sess_options=options,
            providers=select_providers(self.params.providers),
        )
        self._input_name = self.session.get_inputs()[0].name
        log.info("ukis-csmask model %s loaded with providers %s", self._model.version,
                 self.session.get_providers())

    def with_inputs(self, inputs: InputSpec) -> CsmaskModel:
        """This loaded model reading its input another way (same bands): no new session."""
        if _band_count(inputs) != len(self._model.bands):
            return CsmaskModel(self.params, inputs=inputs)
        clone = copy.copy(self)
        clone.inputs = inputs
        return clone

    @property
    def margin(self) -> int:
        """Advisory tile margin (pixels) for this model's parameters."""
        return required_margin(self.params)

    @property
    def model_version(self) -> str:
        return self._model.version

    @property
    def required_bands(self) -> tuple[str, ...]:
        return self._model.bands

    def detect(
        self, image: np.ndarray, *, nodata: float | None = None, valid: np.ndarray | None = None
    ) -> np.ndarray:
        """Classify a (C, H, W) image: uint8 (H, W) with CLEAR/CLOUD/SHADOW/NODATA."""
        refl = prepare_reflectance(image, self.inputs, required=self._model.bands,
                                   nodata=nodata, valid=valid)
        x = (refl.stack(self._model.bands) - self._model.mean) / self._model.std
        x[:, ~refl.valid] = 0.0  # nodata as the training mean: no extreme values near edges
        probabilities = self._probabilities(x)
        mask = _CLASS_CODES[np.argmax(probabilities, axis=-1)]
        mask[~refl.valid] = NODATA
        return mask

    def _probabilities(self, x: np.ndarray) -> np.ndarray:
        """(H, W, classes) blended softmax probabilities of a normalised (C, H, W) array."""
        from scipy.special import softmax
        from ukis_csmask.utils import tile_array, untile_array

        patch, overlap = self._model.patch, self.params.overlap
        tiles = tile_array(np.moveaxis(x, 0, -1), xsize=patch, ysize=patch, overlap=overlap)
        tiles = np.ascontiguousarray(np.moveaxis(tiles, -1, 1))
        outputs = []
        for start in range(0, len(tiles), self.params.batch_size):
            batch = tiles[start:start + self.params.batch_size]
            logits = self.session.run(None, {self._input_name: batch})[0]
            outputs.append(softmax(logits, axis=1))
        probabilities = np.moveaxis(np.concatenate(outputs), 1, -1)
        return untile_array(probabilities, (x.shape[1], x.shape[2], probabilities.shape[-1]),
                            overlap=overlap, smooth_blending=True)
