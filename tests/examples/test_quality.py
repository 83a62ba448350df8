"""Mask quality: confusion matrices and Cohen's kappa against hand-computed values, files."""

from __future__ import annotations

import math

import numpy as np
import pytest
from affine import Affine
from pesto_factory.runtime.imageio import write_geotiff

from examples.quality import (
    MaskQualityError,
    cohen_kappa,
    confusion_matrix,
    score_mask_files,
    score_masks,
)

# Six pixels: reference vs predicted (0 clear, 1 cloud, 2 shadow).
REF = np.array([0, 0, 1, 1, 2, 2], dtype=np.uint8)
PRED = np.array([0, 1, 1, 1, 2, 0], dtype=np.uint8)


def test_binary_kappa_by_hand():
    # p_o = 35/50 = 0.7; p_e = (25*30 + 25*20) / 50^2 = 0.5; kappa = 0.2 / 0.5 = 0.4
    assert cohen_kappa(np.array([[20, 5], [10, 15]])) == pytest.approx(0.4)


def test_three_class_and_cloud_kappa_by_hand():
    matrix = confusion_matrix(REF, PRED)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    score = score_masks(REF, PRED)
    # 3 classes: p_o = 4/6, p_e = (2*2 + 2*3 + 2*1) / 36 = 1/3 -> kappa = (1/3) / (2/3) = 0.5
    assert score.kappa_3class == pytest.approx(0.5)
    # cloud vs rest: [[3, 1], [0, 2]]: p_o = 5/6, p_e = (4*3 + 2*3) / 36 = 1/2 -> kappa = 2/3
    np.testing.assert_array_equal(score.confusion_cloud, [[3, 1], [0, 2]])
    assert score.kappa_cloud == pytest.approx(2 / 3)
    assert score.accuracy_3class == pytest.approx(4 / 6) and score.pixels == 6
    assert score.cloud_fraction_reference == pytest.approx(2 / 6)
    assert score.cloud_fraction_predicted == pytest.approx(3 / 6)


def test_nodata_in_either_mask_is_ignored():
    ref = np.concatenate([REF, [255, 1, 255]]).astype(np.uint8).reshape(3, 3)
    pred = np.concatenate([PRED, [0, 255, 255]]).astype(np.uint8).reshape(3, 3)
    score = score_masks(ref, pred)
    assert score.pixels == 6 and score.kappa_3class == pytest.approx(0.5)


def test_perfect_and_degenerate_agreement():
    assert score_masks(REF, REF).kappa_3class == 1.0
    assert score_masks(REF, REF).kappa_cloud == 1.0
    clear = np.zeros((4, 4), dtype=np.uint8)
    assert math.isnan(score_masks(clear, clear).kappa_3class)  # chance agreement is already 1
    assert score_masks(clear, np.ones((4, 4), dtype=np.uint8)).kappa_cloud == 0.0


def test_kappa_agrees_with_ukis_csmask_on_random_masks():
    from ukis_csmask.utils import cohen_kappa_score

    rng = np.random.default_rng(0)
    ref = rng.integers(0, 3, 2000).astype(np.uint8)
    pred = np.where(rng.random(2000) < 0.7, ref, rng.integers(0, 3, 2000)).astype(np.uint8)
    assert score_masks(ref, pred).kappa_3class == pytest.approx(cohen_kappa_score(ref, pred),
                                                                abs=1e-6)


def test_bad_masks_are_named():
    with pytest.raises(MaskQualityError, match=r"codes \[7\]"):
        score_masks(REF, np.array([0, 1, 7, 1, 2, 0], dtype=np.uint8))
    with pytest.raises(MaskQualityError, match="shapes differ"):
        score_masks(REF, PRED[:5])
    with pytest.raises(MaskQualityError, match="no pixel is valid"):
        score_masks(np.full(3, 255, np.uint8), np.zeros(3, np.uint8))
    with pytest.raises(MaskQualityError, match="square"):
        cohen_kappa(np.zeros((2, 3)))


def _write(path, data, nodata=255):
    return write_geotiff(path, data, nodata=nodata, crs="EPSG:32631",
                         transform=Affine(30, 0, 0, 0, -30, 60), driver="GTiff")


def test_score_mask_files(tmp_path):
    ref = _write(tmp_path / "ref.tif", REF.reshape(2, 3))
    pred = _write(tmp_path / "pred.tif", PRED.reshape(2, 3))
    assert score_mask_files(pred, ref).kappa_3class == pytest.approx(0.5)
    # A file whose own nodata tag is another value: those pixels are ignored too.
    tagged = PRED.reshape(2, 3).copy()
    tagged[0, 0] = 9
    other = _write(tmp_path / "other.tif", tagged, nodata=9)
    assert score_mask_files(other, ref).pixels == 5


def test_file_errors_name_the_file(tmp_path):
    ref = _write(tmp_path / "ref.tif", REF.reshape(2, 3))
    with pytest.raises(MaskQualityError, match="missing.tif: no such file"):
        score_mask_files(tmp_path / "missing.tif", ref)
    small = _write(tmp_path / "small.tif", REF.reshape(2, 3)[:, :2].copy())
    with pytest.raises(MaskQualityError, match="small.tif is 2x2 pixels"):
        score_mask_files(small, ref)
    (tmp_path / "text.tif").write_text("not a raster")
    with pytest.raises(MaskQualityError, match="text.tif: not a readable raster"):
        score_mask_files(tmp_path / "text.tif", ref)
    floats = _write(tmp_path / "float.tif", REF.reshape(2, 3).astype(np.float32))
    with pytest.raises(MaskQualityError, match="float32"):
        score_mask_files(floats, ref)
