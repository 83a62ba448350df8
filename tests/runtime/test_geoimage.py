"""GeoImage: shape rules and cropping the margin back off with the transform moved to match."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from pesto_factory.runtime import GeoImage


def test_core_crops_margin_and_moves_transform() -> None:
    data = np.arange(2 * 10 * 12).reshape(2, 10, 12)
    image = GeoImage(data, transform=Affine(10, 0, 100, 0, -10, 200), margin=(2, 3, 1, 4))
    core = image.core()
    assert core.shape == (2, 7, 5) and core.margin == (0, 0, 0, 0)
    np.testing.assert_array_equal(core.data, data[:, 2:9, 3:8])
    assert core.transform * (0, 0) == (130, 180)  # the core's top-left corner on the ground


def test_two_dimensional_data_becomes_one_band() -> None:
    assert GeoImage(np.zeros((4, 5))).shape == (1, 4, 5)


@pytest.mark.parametrize(("data", "margin", "message"), [
    ([[1]], (0, 0, 0, 0), "numpy array"),
    (np.zeros((1, 2, 3, 4)), (0, 0, 0, 0), "bands, rows, cols"),
    (np.zeros((1, 2, 3)), (0, -1, 0, 0), "margin"),
])
def test_invalid_images_are_refused(data, margin, message) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        GeoImage(data, margin=margin)
