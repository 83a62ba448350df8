"""Sample scenes: the real crop as COG files, synthetic scenes (determinism, georeferencing)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pytest
import rasterio
from affine import Affine
from pesto_factory.packager.samples import (
    SampleDataError,
    default_crop_path,
    load_sentinel2_crop,
    write_sentinel2_crop,
    write_synthetic_scene,
)
from rasterio.errors import NotGeoreferencedWarning


@dataclass(frozen=True)
class Written:
    data: np.ndarray
    profile: dict
    layout: str | None
    transform: Affine
    crs: object
    bounds: tuple
    descriptions: tuple
    overviews: list


def _read(path) -> Written:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        dataset = rasterio.open(path)
    with dataset:
        return Written(dataset.read(), dict(dataset.profile),
                       dataset.tags(ns="IMAGE_STRUCTURE").get("LAYOUT"), dataset.transform,
                       dataset.crs, tuple(dataset.bounds), dataset.descriptions,
                       dataset.overviews(1))


@pytest.fixture(scope="module")
def crop_npz():
    path = default_crop_path()
    if not path.is_file():
        pytest.skip(f"real Sentinel-2 crop not found at {path} (set PESTO_SENTINEL2_CROP)")
    return path


def test_crop_written_as_cog_without_inventing_a_crs(crop_npz, tmp_path):
    files = write_sentinel2_crop(crop_npz, tmp_path)
    image = _read(files.image)
    with np.load(crop_npz) as archive:
        np.testing.assert_array_equal(image.data, np.moveaxis(archive["img"], -1, 0))
    assert image.profile["dtype"] == "float32" and image.data.shape == (6, 512, 512)
    assert image.crs is None and image.transform.is_identity
    assert image.layout == "COG" and image.profile["tiled"]
    assert image.descriptions == ("blue", "green", "red", "nir", "swir1", "swir2")
    mask = _read(files.mask)
    assert mask.profile["dtype"] == "uint8" and mask.profile["nodata"] == 255
    assert mask.layout == "COG"
    # Reference codes 0 shadow, 1-3 clear, 4 cloud -> 2, 0, 1 (counts from the data README).
    values, counts = np.unique(mask.data, return_counts=True)
    assert dict(zip(values.tolist(), counts.tolist(), strict=True)) == {
        0: 183_964, 1: 49_597, 2: 28_583}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "sentinel2_l1c_512.tif", "sentinel2_l1c_512_mask.tif"]  # no temporary files left


def test_load_crop_matches_the_files(crop_npz, tmp_path):
    image, mask = load_sentinel2_crop(crop_npz)
    files = write_sentinel2_crop(crop_npz, tmp_path)
    np.testing.assert_array_equal(_read(files.mask).data[0], mask)
    assert image.dtype == np.float32 and image.flags.c_contiguous


def test_bad_crop_sources_are_named(tmp_path):
    with pytest.raises(SampleDataError, match="no such file"):
        write_sentinel2_crop(tmp_path / "missing.npz", tmp_path)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, img=np.zeros((4, 4, 6), np.float32))
    with pytest.raises(SampleDataError, match=r"wrong\.npz.*'msk'"):
        write_sentinel2_crop(wrong, tmp_path / "out")
    codes = tmp_path / "codes.npz"
    np.savez(codes, img=np.zeros((4, 4, 6), np.float32), msk=np.full((4, 4, 1), 9, np.uint8))
    with pytest.raises(SampleDataError, match=r"unknown reference codes \[9\]"):
        write_sentinel2_crop(codes, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_synthetic_scene_is_deterministic_for_a_seed(tmp_path):
    first = write_synthetic_scene(tmp_path / "a.tif", height=300, width=260, seed=7)
    again = write_synthetic_scene(tmp_path / "b.tif", height=300, width=260, seed=7)
    other = write_synthetic_scene(tmp_path / "c.tif", height=300, width=260, seed=8)
    a, b, c = (_read(s.path).data for s in (first, again, other))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first.mask, again.mask)
    assert not np.array_equal(a, c) and not np.array_equal(first.mask, other.mask)


def test_synthetic_scene_is_a_georeferenced_cog(tmp_path):
    scene = write_synthetic_scene(tmp_path / "s.tif", height=320, width=512, seed=1,
                                  pixel_size=10.0, origin=(600000.0, 5100000.0))
    written = _read(scene.path)
    assert written.crs.to_epsg() == 32631 and scene.crs == "EPSG:32631"
    assert written.transform == Affine(10.0, 0.0, 600000.0, 0.0, -10.0, 5100000.0)
    assert written.transform == scene.transform
    assert written.bounds == (600000.0, 5100000.0 - 3200.0, 605120.0, 5100000.0)
    assert written.layout == "COG" and written.overviews
    assert written.data.shape == (6, 320, 512) and written.data.dtype == np.float32
    assert written.descriptions == scene.band_order
    assert written.data.min() > 0.001 and written.data.max() < 1.2  # plausible, never nodata 0


def test_synthetic_scene_has_clouds_shadows_and_a_nodata_border(tmp_path):
    scene = write_synthetic_scene(tmp_path / "s.tif", height=256, width=256, seed=3,
                                  bands=4, dtype=np.uint16, nodata_border=5,
                                  mask_path=tmp_path / "truth.tif")
    written = _read(scene.path)
    data = written.data
    assert data.shape == (4, 256, 256) and data.dtype == np.uint16
    assert written.profile["nodata"] == 0
    border = np.ones((256, 256), dtype=bool)
    border[5:-5, 5:-5] = False
    assert (data[:, border] == 0).all() and (data[:, ~border] > 0).all()
    assert (scene.mask[border] == 255).all()
    inner = scene.mask[~border]
    assert 0.05 < (inner == 1).mean() < 0.4 and 0.02 < (inner == 2).mean() < 0.3
    np.testing.assert_array_equal(_read(scene.mask_path).data[0], scene.mask)
    cloud = data[:, scene.mask == 1].astype(float).mean(axis=1)
    clear = data[:, scene.mask == 0].astype(float).mean(axis=1)
    shadow = data[:, scene.mask == 2].astype(float).mean(axis=1)
    assert (cloud[:3] > 2 * clear[:3]).all() and shadow[3] < clear[3]  # bright clouds, dark NIR


def test_cloud_free_scene(tmp_path):
    scene = write_synthetic_scene(tmp_path / "s.tif", height=64, width=64, seed=0, clouds=False)
    assert (scene.mask == 0).all()


@pytest.mark.parametrize("kwargs", [
    {"dtype": np.int8}, {"bands": 7}, {"bands": 0}, {"height": 0}, {"nodata_border": -1},
])
def test_bad_synthetic_arguments_are_named(tmp_path, kwargs):
    args = {"height": 32, "width": 32, "seed": 0, **kwargs}
    with pytest.raises(SampleDataError):
        write_synthetic_scene(tmp_path / "s.tif", **args)
    assert not list(tmp_path.iterdir())
