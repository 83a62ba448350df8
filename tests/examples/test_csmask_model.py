"""The `dl` detector (ukis-csmask CNN through onnxruntime): quality, offline, providers, nodata."""

from __future__ import annotations

import socket

import numpy as np
import onnxruntime
import pytest
from algorithm.bands import (
    CLEAR,
    CLOUD,
    NODATA,
    SHADOW,
    InputSpec,
    InvalidImageError,
    InvalidParametersError,
)
from algorithm.csmask_model import CsmaskModel, CsmaskParams, required_margin

from examples.quality import score_masks

# Measured on the whole crop: kappa 0.827 (cloud vs rest), 0.810 (3 classes), identical to
# ukis-csmask's own CSmask class; see docs/benchmarks.md (mask quality).
KAPPA_CLOUD_FLOOR = 0.80
KAPPA_3CLASS_FLOOR = 0.78


@pytest.fixture(scope="module")
def model() -> CsmaskModel:
    return CsmaskModel()


@pytest.fixture(scope="module")
def crop_mask(model, s2_crop) -> np.ndarray:
    return model.detect(s2_crop[0])


def test_real_crop_reaches_kappa_floor(s2_crop, crop_mask):
    score = score_masks(s2_crop[1], crop_mask)
    assert score.kappa_cloud >= KAPPA_CLOUD_FLOOR
    assert score.kappa_3class >= KAPPA_3CLASS_FLOOR
    assert crop_mask.dtype == np.uint8 and set(np.unique(crop_mask)) == {CLEAR, CLOUD, SHADOW}


def test_six_band_l1c_model_on_cpu_by_default(model):
    assert model.model_version == "1.0.0-6BL1C"
    assert model.session.get_providers() == ["CPUExecutionProvider"]
    assert model.margin == required_margin(CsmaskParams()) == 64


def test_loads_and_runs_without_network(monkeypatch, s2_crop):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    mask = CsmaskModel(CsmaskParams(intra_op_num_threads=1)).detect(s2_crop[0][:, :96, :96])
    assert mask.shape == (96, 96)


def test_small_image_with_nodata_border(model, s2_crop):
    image = s2_crop[0][:, 200:300, 150:250].copy()
    image[:, :, :7] = 0.0
    mask = model.detect(image, nodata=0.0)
    assert mask.shape == (100, 100)
    assert (mask[:, :7] == NODATA).all() and (mask[:, 7:] != NODATA).all()


def test_four_band_input_uses_the_four_band_model(s2_crop):
    four = CsmaskModel(inputs=InputSpec(band_order=("blue", "green", "red", "nir")))
    assert four.required_bands == ("blue", "green", "red", "nir")
    assert four.model_version.endswith("4BL1C")
    score = score_masks(s2_crop[1], four.detect(s2_crop[0][:4]))
    assert score.kappa_cloud >= 0.85 and score.kappa_3class >= 0.83  # measured 0.874, 0.851


def test_wrong_band_count_names_the_expected_bands(model, s2_crop):
    with pytest.raises(InvalidImageError, match=r"5 band\(s\).*swir2"):
        model.detect(s2_crop[0][:5])


def test_unavailable_provider_falls_back_or_fails_clearly():
    available = onnxruntime.get_available_providers()
    gpu = CsmaskModel(CsmaskParams(providers=("CUDAExecutionProvider", "CPUExecutionProvider")))
    used = gpu.session.get_providers()
    assert "CPUExecutionProvider" in used
    assert ("CUDAExecutionProvider" in used) == ("CUDAExecutionProvider" in available)
    with pytest.raises(InvalidParametersError, match="NoSuchExecutionProvider.*available"):
        CsmaskModel(CsmaskParams(providers=("NoSuchExecutionProvider",)))


def test_params_are_checked():
    assert CsmaskParams.from_config({"product_level": "L2A"}).product_level == "l2a"
    with pytest.raises(InvalidParametersError, match="product_level"):
        CsmaskParams(product_level="l3")
    with pytest.raises(InvalidParametersError, match="providers"):
        CsmaskParams.from_config({"providers": "CPUExecutionProvider"})
    with pytest.raises(InvalidParametersError, match="batch_size"):
        CsmaskParams(batch_size=0)
    with pytest.raises(InvalidParametersError, match="unknown dl parameter"):
        CsmaskParams.from_config({"gpu": True})
