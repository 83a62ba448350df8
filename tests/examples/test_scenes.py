"""Sample scenes: the real crop shipped in examples/data/, synthetic scenes (determinism,
georeferencing)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning

from examples.scenes import (
    CROP_IMAGE,
    CROP_MASK,
    SampleDataError,
    convert_sentinel2_npz,
    copy_sentinel2_crop,
    load_sentinel2_crop,
    sentinel2_crop,
    write_synthetic_scene,
)


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


def test_the_crop_ships_in_the_repository_without_an_invented_crs():
    files = sentinel2_crop()
    assert (files.image, files.mask) == (CROP_IMAGE, CROP_MASK)
    assert CROP_IMAGE.parent.name == "data" and CROP_IMAGE.parent.parent.name == "examples"
    total = sum(path.stat().st_size for path in CROP_IMAGE.parent.iterdir())
    assert total < 5_000_000  # small enough to live in git
    assert (CROP_IMAGE.parent / "README.md").read_text().count("Apache-2.0") >= 1
    image = _read(files.image)
    assert image.profile["dtype"] == "float32" and image.data.shape == (6, 512, 512)
    assert image.crs is None and image.transform.is_identity
    assert image.layout == "COG"
    assert image.descriptions == ("blue", "green", "red", "nir", "swir1", "swir2")
    assert image.data.min() >= 0.009 and image.data.max() <= 1.28  # TOA reflectance (README)
    mask = _read(files.mask)
    assert mask.profile["dtype"] == "uint8" and mask.profile["nodata"] == 255
    # Reference codes 0 shadow, 1-3 clear, 4 cloud -> 2, 0, 1 (counts from the data README).
    values, counts = np.unique(mask.data, return_counts=True)
    assert dict(zip(values.tolist(), counts.tolist(), strict=True)) == {
        0: 183_964, 1: 49_597, 2: 28_583}


def test_load_and_copy_give_the_shipped_pixels(tmp_path):
    image, mask = load_sentinel2_crop()
    assert image.dtype == np.float32 and image.shape == (6, 512, 512)
    copied = copy_sentinel2_crop(tmp_path / "inputs")
    np.testing.assert_array_equal(_read(copied.image).data, image)
    np.testing.assert_array_equal(_read(copied.mask).data[0], mask)
    assert sorted(p.name for p in (tmp_path / "inputs").iterdir()) == [
        "sentinel2_l1c_512.tif", "sentinel2_l1c_512_mask.tif"]


def test_conversion_from_the_source_archive_is_lossless(tmp_path):
    rng = np.random.default_rng(0)
    img = (rng.integers(90, 12_700, size=(40, 30, 6)) / 10_000).astype(np.float32)
    msk = rng.integers(0, 5, size=(40, 30, 1), dtype=np.uint8)
    np.savez(tmp_path / "crop.npz", img=img, msk=msk)
    files = convert_sentinel2_npz(tmp_path / "crop.npz", tmp_path / "out")
    np.testing.assert_array_equal(_read(files.image).data, np.moveaxis(img, -1, 0))
    codes = np.array([2, 0, 0, 0, 1], np.uint8)[msk[..., 0]]  # source codes -> ours
    np.testing.assert_array_equal(_read(files.mask).data[0], codes)
    assert _read(files.image).crs is None
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["crop.tif", "crop_mask.tif"]


def test_bad_crop_sources_are_named(tmp_path):
    with pytest.raises(SampleDataError, match="no such file"):
        convert_sentinel2_npz(tmp_path / "missing.npz", tmp_path)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, img=np.zeros((4, 4, 6), np.float32))
    with pytest.raises(SampleDataError, match=r"wrong\.npz.*'msk'"):
        convert_sentinel2_npz(wrong, tmp_path / "out")
    codes = tmp_path / "codes.npz"
    np.savez(codes, img=np.zeros((4, 4, 6), np.float32), msk=np.full((4, 4, 1), 9, np.uint8))
    with pytest.raises(SampleDataError, match=r"unknown reference codes \[9\]"):
        convert_sentinel2_npz(codes, tmp_path / "out")
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
