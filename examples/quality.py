"""Mask quality: agreement of a predicted cloud mask with a reference, as Cohen's kappa.

Masks use the cloud-detection class codes: 0 clear, 1 cloud, 2 cloud shadow, 255 nodata. A pixel
that is nodata in either mask is left out. Two scores are reported:

- cloud vs rest (binary): cloud against clear-or-shadow, what a cloud-cover figure depends on;
- clear/cloud/shadow (3 classes).

Cohen's kappa is the observed agreement corrected for the agreement expected by chance from the
two masks' class frequencies: kappa = (p_o - p_e) / (1 - p_e), 1 for perfect agreement, 0 for
chance level. It is undefined (NaN) when both masks hold a single, identical class (p_e = 1).
Confusion matrices have reference classes as rows and predicted classes as columns.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pesto_factory.schemas.errors import UnprocessableInput

__all__ = [
    "CLASSES",
    "MaskQualityError",
    "MaskScore",
    "confusion_matrix",
    "cohen_kappa",
    "score_masks",
    "score_mask_files",
]

CLASSES: tuple[int, ...] = (0, 1, 2)  # clear, cloud, cloud shadow
NODATA = 255


class MaskQualityError(UnprocessableInput, ValueError):
    """Masks that cannot be compared: other shapes, unknown codes, nothing valid, bad file."""


@dataclass(frozen=True)
class MaskScore:
    """Agreement of a predicted mask with a reference, over the pixels valid in both."""

    kappa_cloud: float  # cloud vs rest
    kappa_3class: float  # clear / cloud / shadow
    accuracy_3class: float  # share of pixels with the same class
    confusion_3class: np.ndarray  # (3, 3) int64, rows = reference, columns = predicted
    pixels: int  # pixels compared
    cloud_fraction_reference: float
    cloud_fraction_predicted: float

    @property
    def confusion_cloud(self) -> np.ndarray:
        """(2, 2) rest/cloud matrix, folded from the 3-class one."""
        return _fold_cloud(self.confusion_3class)


def _fold_cloud(m: np.ndarray) -> np.ndarray:
    rest = [0, 2]
    return np.array([[m[np.ix_(rest, rest)].sum(), m[rest, 1].sum()],
                     [m[1, rest].sum(), m[1, 1]]], dtype=np.int64)


def confusion_matrix(reference: np.ndarray, predicted: np.ndarray, *,
                     classes: Sequence[int] = CLASSES, ignore: Sequence[int] = (NODATA,)
                     ) -> np.ndarray:
    """(k, k) counts of (reference class, predicted class), skipping pixels with an `ignore`
    value in either mask; any other value outside `classes` is an error naming it."""
    reference, predicted = np.asarray(reference), np.asarray(predicted)
    if reference.shape != predicted.shape:
        raise MaskQualityError(
            f"mask shapes differ: reference {reference.shape}, predicted {predicted.shape}")
    keep = ~(np.isin(reference, ignore) | np.isin(predicted, ignore))
    ref, pred = reference[keep].astype(np.int64), predicted[keep].astype(np.int64)
    lookup = np.full(max(max(classes), int(ref.max(initial=0)), int(pred.max(initial=0))) + 1,
                     -1, dtype=np.int64)
    lookup[list(classes)] = np.arange(len(classes))
    for name, values in (("reference", ref), ("predicted", pred)):
        if values.size and (values.min() < 0 or (lookup[values] < 0).any()):
            bad = sorted(set(np.unique(values).tolist()) - set(classes))
            raise MaskQualityError(
                f"{name} mask has codes {bad} outside classes {list(classes)} and ignored "
                f"{list(ignore)}")
    k = len(classes)
    flat = lookup[ref] * k + lookup[pred]
    return np.bincount(flat, minlength=k * k).reshape(k, k).astype(np.int64)


def cohen_kappa(matrix: np.ndarray) -> float:
    """Cohen's kappa of a confusion matrix (NaN when chance agreement is already perfect)."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise MaskQualityError(f"confusion matrix must be square, got shape {m.shape}")
    total = m.sum()
    if total <= 0:
        raise MaskQualityError("confusion matrix is empty: no pixels to compare")
    observed = np.trace(m) / total
    expected = float((m.sum(axis=0) * m.sum(axis=1)).sum()) / total ** 2
    if math.isclose(expected, 1.0):
        return math.nan
    return float((observed - expected) / (1.0 - expected))


def score_masks(reference: np.ndarray, predicted: np.ndarray) -> MaskScore:
    """Kappa (cloud vs rest and 3-class) of two class-coded masks of the same shape."""
    matrix = confusion_matrix(reference, predicted)
    pixels = int(matrix.sum())
    if pixels == 0:
        raise MaskQualityError("no pixel is valid in both masks: nothing to compare")
    return MaskScore(
        kappa_cloud=cohen_kappa(_fold_cloud(matrix)), kappa_3class=cohen_kappa(matrix),
        accuracy_3class=float(np.trace(matrix)) / pixels, confusion_3class=matrix,
        pixels=pixels, cloud_fraction_reference=float(matrix[1].sum()) / pixels,
        cloud_fraction_predicted=float(matrix[:, 1].sum()) / pixels,
    )


def _read_mask(path: Path, role: str) -> np.ndarray:
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

    if not path.is_file():
        raise MaskQualityError(f"{role} mask {path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # the crop has no CRS
            dataset = rasterio.open(path)
        with dataset:
            if dataset.count != 1:
                raise MaskQualityError(f"{role} mask {path}: {dataset.count} bands, expected 1")
            data = dataset.read(1)
            nodata = dataset.nodata
    except RasterioIOError as exc:
        raise MaskQualityError(f"{role} mask {path}: not a readable raster ({exc})") from exc
    if not np.issubdtype(data.dtype, np.integer):
        raise MaskQualityError(f"{role} mask {path}: dtype {data.dtype}, expected an integer type")
    if nodata is not None and nodata != NODATA:
        data = np.where(data == nodata, NODATA, data)  # a file's own nodata tag also counts
    return data


def score_mask_files(predicted: str | os.PathLike, reference: str | os.PathLike) -> MaskScore:
    """Score a predicted mask file (GeoTIFF, band 1) against a reference mask file."""
    ref = _read_mask(Path(reference), "reference")
    pred = _read_mask(Path(predicted), "predicted")
    if ref.shape != pred.shape:
        raise MaskQualityError(
            f"predicted mask {predicted} is {pred.shape[0]}x{pred.shape[1]} pixels but reference "
            f"{reference} is {ref.shape[0]}x{ref.shape[1]}")
    return score_masks(ref, pred)
