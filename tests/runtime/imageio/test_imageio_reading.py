"""Reading Image values, ImageRef windows and raw bytes from real rasters."""

from __future__ import annotations

import base64

import numpy as np
import pytest
import rasterio
from pesto_factory.runtime.errors import BadRequest, Forbidden, UnprocessableInput
from pesto_factory.runtime.imageio import decode_base64, read_bytes, read_image, read_image_ref
from rasterio.io import MemoryFile

from tests.runtime.imageio.imageio_fixtures import TRANSFORM, ramp, write_tiff

WINDOW = {"col_off": 20, "row_off": 10, "width": 16, "height": 8}

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")


def encoded(path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def test_read_image_by_uri_and_by_path_gives_pixels_and_georeferencing(scene, policy):
    for value in (scene.as_uri(), str(scene)):
        image = read_image(value, policy)
        assert image.data.dtype == np.uint16 and image.shape == (3, 60, 80)
        np.testing.assert_array_equal(image.data, ramp())
        assert image.crs == "EPSG:32632" and image.transform == TRANSFORM
        assert image.nodata == 0 and isinstance(image.nodata, int) and image.margin == (0, 0, 0, 0)


@pytest.mark.parametrize("form", ["plain", "data-uri", "wrapped", "urlsafe-unpadded"])
def test_read_image_from_base64(scene, policy, form):
    text = encoded(scene)
    value = {
        "plain": text,
        "data-uri": "data:image/tiff;base64," + text,
        "wrapped": "\n".join(text[i:i + 76] for i in range(0, len(text), 76)) + "\n",
        "urlsafe-unpadded": base64.urlsafe_b64encode(scene.read_bytes()).decode().rstrip("="),
    }[form]
    image = read_image(value, policy)
    np.testing.assert_array_equal(image.data, ramp())
    assert image.transform == TRANSFORM


def test_png_and_jpeg_are_read_without_georeferencing(policy):
    rgb = ramp(3, 20, 30, "uint8")
    for driver in ("PNG", "JPEG"):
        with MemoryFile() as memfile:
            with memfile.open(driver=driver, count=3, height=20, width=30, dtype="uint8") as dst:
                dst.write(rgb)
            data = memfile.read()
        image = read_image(base64.b64encode(data).decode(), policy)
        assert image.shape == (3, 20, 30) and image.crs is None and image.transform is None
        if driver == "PNG":
            np.testing.assert_array_equal(image.data, rgb)


def test_bad_base64_is_a_bad_request_that_does_not_echo_the_value(policy):
    value = "SUkq" * 1000 + "!!!"
    with pytest.raises(BadRequest) as caught:
        read_image(value, policy, field="scene")
    assert "'scene'" in caught.value.message and value[:100] not in caught.value.message
    with pytest.raises(BadRequest, match="base64-encoded"):
        decode_base64("data:image/tiff,rawtext")
    with pytest.raises(BadRequest, match="not int"):
        read_image(42, policy)  # type: ignore[arg-type]


def test_corrupt_and_non_raster_data_is_unprocessable_naming_the_input(scene, policy):
    with pytest.raises(UnprocessableInput) as caught:
        read_image(base64.b64encode(b"this is not an image at all").decode(), policy, field="img")
    message = caught.value.message
    assert "'img'" in message and "27 bytes" in message and "/vsimem" not in message
    assert caught.value.status_code == 422
    truncated = scene.read_bytes()
    truncated = truncated[: len(truncated) // 3]
    with pytest.raises(UnprocessableInput, match="'img'"):
        read_bytes(truncated, field="img")
    text_file = scene.with_name("notes.tif")
    text_file.write_text("hello")
    with pytest.raises(UnprocessableInput, match=str(text_file)):
        read_image(text_file.as_uri(), policy, field="img")


def test_missing_file_is_unprocessable_and_outside_file_forbidden(root, policy):
    with pytest.raises(UnprocessableInput, match="missing.tif"):
        read_image((root / "missing.tif").as_uri(), policy)
    with pytest.raises(Forbidden):
        read_image("file:///etc/hostname", policy)
    with pytest.raises(Forbidden):
        read_image_ref({"href": "/etc/hostname"}, policy)


def test_read_bytes_reads_a_raw_body(scene):
    image = read_bytes(scene.read_bytes())
    np.testing.assert_array_equal(image.data, ramp())
    with pytest.raises(BadRequest, match="empty"):
        read_bytes(b"")


def test_image_ref_without_window_reads_everything(scene, policy):
    image = read_image_ref({"href": scene.as_uri(), "margin": 5}, policy)
    np.testing.assert_array_equal(image.data, ramp())
    assert image.margin == (0, 0, 0, 0)


def test_image_ref_reads_window_plus_margin_and_its_transform(scene, policy):
    image = read_image_ref({"href": str(scene), "window": WINDOW, "margin": 4}, policy)
    assert image.margin == (4, 4, 4, 4) and image.shape == (3, 16, 24)
    np.testing.assert_array_equal(image.data, ramp()[:, 6:22, 16:40])
    assert image.transform == TRANSFORM @ TRANSFORM.translation(16, 6)
    core = image.core()
    np.testing.assert_array_equal(core.data, ramp()[:, 10:18, 20:36])
    assert core.transform == TRANSFORM @ TRANSFORM.translation(20, 10)


@pytest.mark.parametrize(("window", "margin"), [
    ({"col_off": 0, "row_off": 0, "width": 10, "height": 10}, (0, 0, 5, 5)),
    ({"col_off": 70, "row_off": 0, "width": 10, "height": 10}, (0, 5, 5, 0)),
    ({"col_off": 0, "row_off": 50, "width": 10, "height": 10}, (5, 0, 0, 5)),
    ({"col_off": 70, "row_off": 50, "width": 10, "height": 10}, (5, 5, 0, 0)),
    ({"col_off": 2, "row_off": 57, "width": 10, "height": 3}, (5, 2, 0, 5)),
    ({"col_off": 0, "row_off": 0, "width": 80, "height": 60}, (0, 0, 0, 0)),
])
def test_margin_is_clipped_at_the_borders_and_reported(scene, policy, window, margin):
    image = read_image_ref({"href": str(scene), "window": window, "margin": 5}, policy)
    assert image.margin == margin
    top, left, bottom, right = margin
    rows = slice(window["row_off"] - top, window["row_off"] + window["height"] + bottom)
    cols = slice(window["col_off"] - left, window["col_off"] + window["width"] + right)
    np.testing.assert_array_equal(image.data, ramp()[:, rows, cols])
    np.testing.assert_array_equal(image.core().data, ramp()[
        :, window["row_off"]:window["row_off"] + window["height"],
        window["col_off"]:window["col_off"] + window["width"]])


@pytest.mark.parametrize("window", [
    {"col_off": 75, "row_off": 0, "width": 10, "height": 10},
    {"col_off": 0, "row_off": 60, "width": 1, "height": 1},
    {"col_off": 500, "row_off": 500, "width": 10, "height": 10},
])
def test_window_outside_the_raster_is_unprocessable_with_sizes(scene, policy, window):
    with pytest.raises(UnprocessableInput) as caught:
        read_image_ref({"href": str(scene), "window": window}, policy, field="tile")
    message = caught.value.message
    assert "'tile'" in message and "80 columns x 60 rows" in message
    assert f"col_off={window['col_off']}" in message


def test_bands_select_and_order(scene, policy):
    image = read_image_ref({"href": str(scene), "window": WINDOW, "bands": [3, 1]}, policy)
    np.testing.assert_array_equal(image.data, ramp()[[2, 0], 10:18, 20:36])
    with pytest.raises(UnprocessableInput, match="band 4 requested but .* 3 band"):
        read_image_ref({"href": str(scene), "bands": [4]}, policy)


@pytest.mark.parametrize(("ref", "fault"), [
    ({"window": WINDOW}, "href"),
    ({"href": "/x.tif", "window": {"col_off": -1, "row_off": 0, "width": 1, "height": 1}}, "window"),
    ({"href": "/x.tif", "window": {"col_off": 0, "row_off": 0, "width": 0, "height": 1}}, "window"),
    ({"href": "/x.tif", "margin": -2}, "margin"),
    ({"href": "/x.tif", "bands": [0]}, "bands"),
])
def test_malformed_refs_are_bad_requests(policy, ref, fault):
    with pytest.raises(BadRequest, match=fault):
        read_image_ref(ref, policy)


def test_float_nan_nodata_and_a_raster_without_crs(root, policy):
    data = np.full((1, 10, 12), np.nan, dtype="float32")
    data[0, :5] = 0.25
    path = root / "f.tif"
    with rasterio.open(path, "w", driver="GTiff", count=1, height=10, width=12,
                       dtype="float32", nodata=np.nan) as dst:
        dst.write(data)
    image = read_image(str(path), policy)
    assert image.crs is None and image.transform is None and np.isnan(image.nodata)
    tile = read_image_ref({"href": str(path), "window": {"col_off": 4, "row_off": 2, "width": 3,
                                                         "height": 3}}, policy)
    # Without georeferencing a tile still knows where it lies, in pixel coordinates.
    assert tile.crs is None and (tile.transform.c, tile.transform.f) == (4.0, 2.0)


def test_an_unreadable_tile_in_a_valid_header_is_unprocessable(root, policy):
    path = write_tiff(root / "big.tif", ramp(1, 64, 64), tiled=True, blockxsize=16,
                      blockysize=16, compress="deflate")
    raw = bytearray(path.read_bytes())
    with rasterio.open(path) as src:  # find a tile's bytes and scramble them
        offset = int(src.get_tag_item("BLOCK_OFFSET_1_1", "TIFF", bidx=1))
    raw[offset:offset + 64] = b"\xff" * 64
    broken = root / "broken.tif"
    broken.write_bytes(bytes(raw))
    with pytest.raises(UnprocessableInput, match="'img'.*broken.tif"):
        read_image(str(broken), policy, field="img")
