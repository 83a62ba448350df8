"""Map/reduce statistics over tiles against NumPy on the whole image."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pesto_factory.runtime.raster import (
    Extrema,
    HistogramBins,
    Moments,
    TilingError,
    band_stats,
    map_reduce,
)
from rasterio.transform import from_origin

from tests.runtime.raster import funcs


def test_chan_merge_equals_moments_of_the_union():
    rng = np.random.default_rng(3)
    values = rng.normal(1e6, 3.0, size=10_001)  # large mean: the naive sum of squares loses digits
    cuts = sorted(rng.choice(values.size, 6, replace=False))
    merged = Moments()
    for part in np.split(values, cuts):
        merged = merged.merge(Moments.of(part))
    assert merged.count == values.size
    assert merged.mean == pytest.approx(values.mean(), rel=1e-15)
    assert merged.variance() == pytest.approx(values.var(), rel=1e-10)
    assert merged.std(ddof=1) == pytest.approx(values.std(ddof=1), rel=1e-10)
    assert math.isnan(Moments().variance())
    assert Moments().merge(Moments()) == Moments()


def test_extrema_merge_skips_empty_parts():
    assert Extrema().merge(Extrema.of(np.array([3, 1]))) == Extrema(1, 3)
    assert Extrema.of(np.array([5])).merge(Extrema()) == Extrema(5, 5)


def expected(band: np.ndarray, nodata, bins: HistogramBins | None):
    valid = band[(band != nodata) & ~np.isnan(band)] if band.dtype.kind == "f" else band[band != nodata]
    counts = (np.histogram(valid, bins=bins.count, range=(bins.low, bins.high))[0]
              if bins else None)
    return valid, counts


@pytest.mark.parametrize("workers", [1, 2])
def test_band_stats_match_numpy_with_nodata(workers):
    rng = np.random.default_rng(4)
    ints = rng.integers(0, 500, size=(2, 61, 77)).astype(np.int16)
    ints[:, :10, :] = -9999  # a nodata stripe (whole tiles and parts of tiles)
    floats = rng.normal(100, 15, size=(1, 61, 77)).astype(np.float32)
    floats[0, 30:, 40:] = np.nan
    floats[0, 5, 5] = -9999
    bins = HistogramBins(50, 0, 200)
    stats = band_stats([ints, floats], nodata=-9999, bins=bins, tile_size=16, workers=workers)
    assert [len(s) for s in stats] == [2, 1]
    for image, image_stats in zip([ints, floats], stats, strict=True):
        for band, got in zip(image, image_stats, strict=True):
            valid, counts = expected(band, -9999, bins)
            assert got.count == valid.size
            assert (got.min, got.max) == (valid.min(), valid.max())
            assert got.mean == pytest.approx(valid.astype(np.float64).mean(), rel=1e-12)
            assert got.std == pytest.approx(valid.astype(np.float64).std(), rel=1e-9)
            np.testing.assert_array_equal(got.histogram.counts, counts)


def test_all_nodata_band_has_no_values():
    image = np.full((1, 20, 20), 7, np.uint8)
    (stats,) = band_stats([image], nodata=7, tile_size=8, workers=1)
    assert stats[0].count == 0 and stats[0].min is None and math.isnan(stats[0].mean)


def test_file_nodata_is_used_by_default(tmp_path: Path):
    data = np.arange(40 * 30, dtype=np.uint16).reshape(1, 40, 30)
    data[0, :5] = 0
    path = tmp_path / "band.tif"
    with rasterio.open(path, "w", driver="GTiff", width=30, height=40, count=1, dtype="uint16",
                       nodata=0, transform=from_origin(0, 40, 1, 1)) as out:
        out.write(data)
    (stats,) = band_stats([path], tile_size=16, workers=2)
    valid = data[data != 0]
    assert (stats[0].count, stats[0].min, stats[0].max) == (valid.size, valid.min(), valid.max())


def test_map_reduce_with_a_custom_merge():
    image = np.random.default_rng(5).integers(0, 3, size=(1, 50, 45))
    total = map_reduce(funcs.valid_count, [image], merge=lambda a, b: a + b, tile_size=12,
                       workers=2)
    assert total == int((image > 0).sum())


def test_bad_statistics_arguments():
    with pytest.raises(TilingError, match="HistogramBins.high"):
        HistogramBins(10, 5, 5)
    with pytest.raises(TilingError, match="HistogramBins.count"):
        HistogramBins(0, 0, 1)
    with pytest.raises(TilingError, match="one value per input"):
        band_stats([np.zeros((1, 4, 4))], nodata=[0, 1])
