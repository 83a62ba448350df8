"""PNG outputs: an Image output with `"contentMediaType": "image/png"` is written as a PNG."""

from __future__ import annotations

import base64

import numpy as np
import pytest
import rasterio
from pesto_factory.runtime.errors import AlgorithmFailed
from pesto_factory.runtime.geoimage import GeoImage
from pesto_factory.runtime.imageio import PNG_MEDIA_TYPE, write_png
from pesto_factory.runtime.payload import encode_outputs
from pesto_factory.runtime.project import bundle_definitions
from rasterio.io import MemoryFile
from rasterio.transform import from_origin

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")

SCHEMA = bundle_definitions({"type": "object", "properties": {
    "mask": {"$ref": "#/definitions/Image"},
    "quicklook": {"$ref": "#/definitions/Image", "contentMediaType": "image/png"},
    "thumbs": {"$ref": "#/definitions/Images", "contentMediaType": "image/png"},
}}, {})


def rgb(rows: int = 20, cols: int = 30, bands: int = 3) -> np.ndarray:
    return (np.arange(bands * rows * cols) % 251).astype(np.uint8).reshape(bands, rows, cols)


def read_png(data: bytes) -> tuple[str, np.ndarray]:
    with MemoryFile(data) as memory, memory.open() as src:
        return src.driver, src.read()


def test_png_property_is_written_as_png_beside_a_cog(tmp_path):
    georeferenced = GeoImage(rgb(), crs="EPSG:32631", transform=from_origin(0, 100, 1, 1))
    result = {"mask": rgb(bands=1), "quicklook": georeferenced, "thumbs": [rgb(bands=4)]}
    value, files = encode_outputs(result, SCHEMA, tmp_path, inline=False)
    by_name = {f.name: f for f in files}
    assert by_name["quicklook"].path == tmp_path / "quicklook.png"
    assert by_name["quicklook"].media_type == PNG_MEDIA_TYPE == "image/png"
    assert by_name["thumbs_0"].media_type == "image/png"
    assert by_name["mask"].media_type.startswith("image/tiff") and by_name["mask"].path.suffix == ".tif"
    assert value["quicklook"] == (tmp_path / "quicklook.png").as_uri()
    driver, pixels = read_png((tmp_path / "quicklook.png").read_bytes())
    assert driver == "PNG"
    np.testing.assert_array_equal(pixels, rgb())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mask.tif", "quicklook.png", "thumbs_0.png"]


def test_inline_png_is_the_base64_of_the_png(tmp_path):
    value, files = encode_outputs({"quicklook": rgb(bands=1)}, SCHEMA, tmp_path, inline=True)
    data = base64.b64decode(value["quicklook"])
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data == files[0].path.read_bytes()
    np.testing.assert_array_equal(read_png(data)[1], rgb(bands=1))


@pytest.mark.parametrize(("image", "fault"), [
    (np.zeros((1, 4, 4), np.uint16), "8-bit"),
    (np.zeros((2, 4, 4), np.uint8), "1, 3 or 4 bands"),
    (np.zeros((5, 4, 4), np.uint8), "1, 3 or 4 bands"),
])
def test_pngs_must_be_8_bit_grey_rgb_or_rgba(tmp_path, image, fault):
    with pytest.raises(AlgorithmFailed, match=f"'quicklook'.*{fault}"):
        encode_outputs({"quicklook": image}, SCHEMA, tmp_path, inline=False)
    assert list(tmp_path.iterdir()) == []


def test_write_png_takes_booleans_crops_margins_and_is_atomic(tmp_path):
    mask = np.zeros((1, 6, 8), dtype=bool)
    mask[0, 2:4, 2:6] = True
    path = write_png(GeoImage(mask, margin=(1, 1, 1, 1)), tmp_path / "m.png")
    with rasterio.open(path) as src:
        assert src.dtypes == ("uint8",) and src.shape == (4, 6)
        np.testing.assert_array_equal(src.read(1), mask[0, 1:5, 1:7].astype(np.uint8))
    assert [p.name for p in tmp_path.iterdir()] == ["m.png"]  # no .aux.xml, no temporary
