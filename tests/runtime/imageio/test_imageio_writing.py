"""Writing lossless COGs: dtypes, georeferencing and nodata kept bit for bit, all or nothing."""

from __future__ import annotations

import base64

import numpy as np
import pytest
import rasterio
from pesto_factory.runtime.geoimage import GeoImage
from pesto_factory.runtime.imageio import encode_base64, read_bytes, read_image, write_image
from rasterio.crs import CRS

from tests.runtime.imageio.imageio_fixtures import TRANSFORM, ramp

CRS_UTM = CRS.from_epsg(32632)

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")


def read_back(path):
    with rasterio.open(path) as src:
        return src.read(), src.profile, src.tags(ns="IMAGE_STRUCTURE")


@pytest.mark.parametrize(("dtype", "nodata"), [
    ("uint16", 0), ("int16", -32768), ("float32", np.nan), ("uint8", 255), ("float64", -9999.5),
    ("int32", None), ("int8", -1),
])
def test_round_trip_keeps_dtype_crs_transform_and_nodata_bit_for_bit(tmp_path, policy, dtype, nodata):
    data = ramp(2, 33, 47, "float64")
    if np.dtype(dtype).kind == "f":
        data = data / 7.0
        data[0, 3, 4] = np.nan
    data = data.astype(dtype)
    image = GeoImage(data, crs=CRS_UTM, transform=TRANSFORM, nodata=nodata)
    path = write_image(image, tmp_path / "out.tif")
    pixels, profile, structure = read_back(path)
    assert pixels.dtype == np.dtype(dtype)
    assert pixels.tobytes() == data.tobytes()  # bit for bit, NaNs included
    assert profile["crs"] == CRS_UTM and profile["transform"] == TRANSFORM
    if nodata is None:
        assert profile["nodata"] is None
    elif np.isnan(nodata):
        assert np.isnan(profile["nodata"])
    else:
        assert profile["nodata"] == nodata
    assert structure["LAYOUT"] == "COG" and structure["COMPRESSION"] in ("ZSTD", "DEFLATE")
    again = read_image(str(path), type(policy)(readable_roots=(tmp_path,)))
    assert again.data.tobytes() == data.tobytes() and again.transform == TRANSFORM


def test_bool_is_stored_as_uint8_and_2d_arrays_as_one_band(tmp_path):
    mask = np.zeros((20, 30), dtype=bool)
    mask[5:10, 5:25] = True
    pixels, profile, _ = read_back(write_image(mask, tmp_path / "mask.tif"))
    assert pixels.dtype == np.uint8 and pixels.shape == (1, 20, 30)
    np.testing.assert_array_equal(pixels[0], mask.astype(np.uint8))
    assert profile["crs"] is None


def test_float16_is_stored_losslessly_as_float32(tmp_path):
    data = (ramp(1, 8, 8, "float64") / 3).astype(np.float16)
    pixels, _, _ = read_back(write_image(data, tmp_path / "h.tif"))
    assert pixels.dtype == np.float32 and np.array_equal(pixels, data.astype(np.float32))


def test_an_image_with_margin_is_written_as_its_core(tmp_path):
    block = GeoImage(ramp(1, 20, 20), crs=CRS_UTM, transform=TRANSFORM, margin=(2, 3, 4, 5))
    pixels, profile, _ = read_back(write_image(block, tmp_path / "core.tif"))
    np.testing.assert_array_equal(pixels, ramp(1, 20, 20)[:, 2:16, 3:15])
    assert profile["transform"] == TRANSFORM @ TRANSFORM.translation(3, 2)


def test_a_failed_write_leaves_no_file_and_keeps_the_previous_one(tmp_path, monkeypatch):
    target = tmp_path / "out.tif"
    write_image(ramp(1, 8, 8), target)
    before = target.read_bytes()
    with pytest.raises(rasterio.errors.CRSError):
        write_image(GeoImage(ramp(1, 8, 8), crs="EPSG:999999"), target)
    seen = []
    real_open = rasterio.open

    def failing_open(path, mode="r", **kwargs):  # fails after pixels went to the temp file
        dataset = real_open(path, mode, **kwargs)

        def write(data):
            dataset.__class__.write(dataset, data)
            dataset.close()
            seen.extend(p.name for p in tmp_path.iterdir())
            raise OSError("No space left on device")
        dataset.write = write
        return dataset

    monkeypatch.setattr("pesto_factory.runtime.imageio.writing.rasterio.open", failing_open)
    with pytest.raises(OSError, match="No space"):
        write_image(ramp(1, 8, 8), target)
    assert any(name.endswith(".part") for name in seen)  # the temp file existed, then went
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tif"]


def test_unstorable_images_are_refused_before_writing(tmp_path):
    with pytest.raises(TypeError, match="dtype"):
        write_image(np.array([[["a"]]]), tmp_path / "s.tif")
    with pytest.raises(ValueError, match="empty"):
        write_image(np.zeros((1, 0, 4)), tmp_path / "e.tif")
    with pytest.raises(TypeError, match="GeoImage or a numpy array"):
        write_image([[1, 2]], tmp_path / "l.tif")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_parent_folders_are_created(tmp_path):
    path = write_image(ramp(1, 4, 4), tmp_path / "a" / "b" / "c.tif")
    assert path.is_file()


def test_encode_base64_reads_back_to_the_same_image(tmp_path):
    path = write_image(GeoImage(ramp(), crs=CRS_UTM, transform=TRANSFORM), tmp_path / "x.tif")
    text = encode_base64(path)
    assert base64.b64decode(text) == path.read_bytes()
    image = read_bytes(base64.b64decode(text))
    np.testing.assert_array_equal(image.data, ramp())
    assert image.transform == TRANSFORM


def test_output_compression_none_is_lossless_and_uncompressed(tmp_path, monkeypatch) -> None:
    from pesto_factory.runtime.settings import get_settings

    data = np.arange(3 * 64 * 64, dtype=np.uint16).reshape(3, 64, 64)
    monkeypatch.setenv("PESTO_OUTPUT_COMPRESSION", "none")
    get_settings.cache_clear()
    try:
        path = write_image(data, tmp_path / "plain.tif")
        monkeypatch.delenv("PESTO_OUTPUT_COMPRESSION")
        get_settings.cache_clear()
        compressed = write_image(data, tmp_path / "zstd.tif")
    finally:
        get_settings.cache_clear()
    with rasterio.open(path) as src:
        assert "COMPRESSION" not in src.tags(ns="IMAGE_STRUCTURE")
        np.testing.assert_array_equal(src.read(), data)
    with rasterio.open(compressed) as src:
        assert src.tags(ns="IMAGE_STRUCTURE")["COMPRESSION"] in ("ZSTD", "DEFLATE")


# --- write_geotiff: the one writer (service outputs, tiling engine files, sample scenes) -------
def test_write_geotiff_stores_band_names_tags_and_overviews(tmp_path):
    from pesto_factory.runtime.imageio import write_geotiff

    data = np.arange(2 * 600 * 600, dtype=np.uint16).reshape(2, 600, 600)
    path = write_geotiff(tmp_path / "s.tif", data, crs=CRS_UTM, transform=TRANSFORM, nodata=0,
                         overviews=True, resampling="nearest", blocksize=256,
                         band_names=("red", "nir"), tags={"SOURCE": "test"})
    with rasterio.open(path) as src:
        np.testing.assert_array_equal(src.read(), data)
        assert src.descriptions == ("red", "nir") and src.tags()["SOURCE"] == "test"
        assert src.overviews(1) and src.block_shapes[0] == (256, 256)
        structure = src.tags(ns="IMAGE_STRUCTURE")
        assert structure["LAYOUT"] == "COG" and structure["PREDICTOR"] == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.tif"]


@pytest.mark.parametrize(("codec", "dtype", "compression", "predictor"), [
    ("auto", "uint16", ("ZSTD", "DEFLATE"), "2"),
    ("auto", "float32", ("ZSTD", "DEFLATE"), None),  # floats go without (measured)
    ("deflate", "int16", ("DEFLATE",), "2"),
    ("none", "uint8", (None,), None),
])
def test_write_geotiff_codecs_follow_the_measurements(tmp_path, codec, dtype, compression,
                                                      predictor):
    from pesto_factory.runtime.imageio import write_geotiff

    data = ramp(1, 40, 40, dtype)
    for driver in ("COG", "GTiff"):
        path = write_geotiff(tmp_path / f"{driver}.tif", data, driver=driver, codec=codec)
        pixels, _, structure = read_back(path)
        np.testing.assert_array_equal(pixels, data)
        assert structure.get("COMPRESSION") in compression
        assert structure.get("PREDICTOR") == predictor
        assert (structure.get("LAYOUT") == "COG") == (driver == "COG")


def test_write_geotiff_refuses_bad_options_before_writing(tmp_path):
    from pesto_factory.runtime.imageio import write_geotiff

    with pytest.raises(ValueError, match="codec must be"):
        write_geotiff(tmp_path / "a.tif", ramp(), codec="jpeg")  # lossy: never
    with pytest.raises(ValueError, match="overviews"):
        write_geotiff(tmp_path / "a.tif", ramp(), driver="GTiff", overviews=True)
    with pytest.raises(ValueError, match="band names"):
        write_geotiff(tmp_path / "a.tif", ramp(1, 4, 4), band_names=("a", "b"))
    assert list(tmp_path.iterdir()) == []
