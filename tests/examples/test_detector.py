"""The detector factory a service wraps: one config object, `margin`, `detect`, cloud fraction."""

from __future__ import annotations

import numpy as np
import pytest
from algorithm.bands import CLEAR, CLOUD, NODATA, SHADOW, InvalidParametersError
from algorithm.cloudmask import CloudMaskParams, detect_clouds, required_margin
from algorithm.csmask_model import CsmaskModel
from algorithm.detector import SpectralDetector, cloud_fraction, load_config, make_detector


def test_default_config_is_the_spectral_detector():
    config = load_config({})
    assert config.algorithm == "spectral" and config.spectral == CloudMaskParams()
    detector = make_detector(config)
    assert isinstance(detector, SpectralDetector)
    assert detector.margin == required_margin(CloudMaskParams()) == 40


def test_config_values_reach_the_detector(s2_crop):
    config = {"band_order": ["B02", "B03", "B04", "B08", "B11", "B12"], "nodata": 0,
              "spectral": {"shadow": False}}
    detector = make_detector(config)
    assert detector.margin == 7
    image = s2_crop[0].copy()
    image[:, :3] = 0
    mask = detector.detect(image)
    assert SHADOW not in mask and (mask[:3] == NODATA).all()
    expected = detect_clouds(image, params=CloudMaskParams(shadow=False), nodata=0)
    np.testing.assert_array_equal(mask, expected)


def test_dl_profile_config_builds_the_cnn():
    detector = make_detector({"algorithm": "dl", "dl": {"margin": 32, "intra_op_num_threads": 1}})
    assert isinstance(detector, CsmaskModel) and detector.margin == 32


@pytest.mark.parametrize(("config", "named"), [
    ({"algoritm": "dl"}, "algoritm"),
    ({"algorithm": "magic"}, "magic"),
    ({"spectral": {"hot": 1}}, "hot"),
    ({"dl": {"providers": []}}, "providers"),
    ({"band_order": []}, "band_order"),
])
def test_bad_config_names_the_problem(config, named):
    with pytest.raises(InvalidParametersError, match=named):
        load_config(config)


def test_cloud_fraction_ignores_nodata():
    mask = np.array([[CLOUD, CLEAR], [SHADOW, NODATA]], dtype=np.uint8)
    assert cloud_fraction(mask) == pytest.approx(1 / 3)
    assert cloud_fraction(np.full((2, 2), NODATA, dtype=np.uint8)) is None
