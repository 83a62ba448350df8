"""Images nested in payloads, header-only inputs, Image-or-ImageRef inputs and data: hrefs.

What the example chain needs from the payload bridge: merge takes a list of tile results each
holding an ImageRef; tiling and merge read only their scene's header; tiling takes its scene as
an Image or an ImageRef; test cases carry small tiles inline as data: URIs.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pytest
from pesto_factory.runtime.errors import BadRequest, Forbidden, UnprocessableInput
from pesto_factory.runtime.geoimage import GeoImage
from pesto_factory.runtime.imageio import ImageHeader, RefImage, read_header, write_image
from pesto_factory.runtime.payload import (
    body_to_payload,
    check_inputs,
    georeferenced_parameters,
    resolve_inputs,
)
from pesto_factory.runtime.project import bundle_definitions
from pesto_factory.runtime.raster.windows import Window
from rasterio.transform import from_origin

from tests.runtime.imageio import imageio_fixtures

root = imageio_fixtures.root
policy = imageio_fixtures.policy
TRANSFORM = from_origin(500_000.0, 4_000_000.0, 20.0, 20.0)

SCHEMA = bundle_definitions({
    "type": "object",
    "required": ["scene"],
    "properties": {
        "scene": {"anyOf": [{"$ref": "#/definitions/Image"}, {"$ref": "#/definitions/ImageRef"}],
                  "x-pesto-read": "header"},
        "tiles": {"type": "array", "items": {"$ref": "#/definitions/TileResult"}},
        "first": {"$ref": "#/definitions/ImageRef"},
    },
}, {"TileResult": {
    "type": "object", "required": ["mask", "window"],
    "properties": {"mask": {"$ref": "#/definitions/ImageRef"},
                   "window": {"$ref": "#/definitions/Window"}}}})


@pytest.fixture
def scene(root: Path) -> Path:
    data = np.arange(2 * 30 * 40, dtype=np.uint16).reshape(2, 30, 40)
    return write_image(GeoImage(data, crs="EPSG:32633", transform=TRANSFORM, nodata=7),
                       root / "scene.tif")


def data_uri(path: Path) -> str:
    return "data:image/tiff;base64," + base64.b64encode(path.read_bytes()).decode()


def tile(href: str, col: int) -> dict:
    return {"mask": {"href": href, "window": {"col_off": col, "row_off": 0, "width": 10,
                                              "height": 5}}, "window": {"col_off": col,
                                                                         "row_off": 0,
                                                                         "width": 10,
                                                                         "height": 5}}


def test_nested_refs_are_checked_and_read_in_place(scene, policy):
    payload = {"scene": scene.as_uri(), "tiles": [tile(str(scene), 0), tile(scene.as_uri(), 20)],
               "first": {"href": str(scene)}}
    check_inputs(payload, SCHEMA, policy)
    kwargs = resolve_inputs(payload, SCHEMA, policy, georeferenced={"first"})
    masks = [t["mask"] for t in kwargs["tiles"]]
    assert all(isinstance(m, np.ndarray) and m.shape == (2, 5, 10) for m in masks)
    expected = np.arange(2 * 30 * 40, dtype=np.uint16).reshape(2, 30, 40)
    np.testing.assert_array_equal(masks[1], expected[:, 0:5, 20:30])
    assert kwargs["tiles"][1]["window"]["col_off"] == 20  # the rest of each item as given
    assert isinstance(kwargs["first"], GeoImage)
    assert isinstance(payload["tiles"][0]["mask"], dict)  # the payload itself is not edited


def test_nested_refs_outside_the_roots_or_unreadable_name_their_place(scene, root, policy):
    payload = {"scene": str(scene), "tiles": [tile(str(scene), 0), tile("/etc/hostname", 0)]}
    with pytest.raises(Forbidden, match=re.escape("'tiles[1].mask'")):
        check_inputs(payload, SCHEMA, policy)
    (root / "junk.tif").write_text("not a raster")
    payload["tiles"][1] = tile(str(root / "junk.tif"), 0)
    check_inputs(payload, SCHEMA, policy)
    with pytest.raises(UnprocessableInput, match=re.escape("'tiles[1].mask'")):
        resolve_inputs(payload, SCHEMA, policy, georeferenced=set())


def test_header_inputs_give_size_and_georeferencing_without_pixels(scene, policy):
    for value in (scene.as_uri(), {"href": str(scene), "bands": [2]}):
        payload = {"scene": value}
        check_inputs(payload, SCHEMA, policy)
        header = resolve_inputs(payload, SCHEMA, policy, georeferenced=set())["scene"]
        assert isinstance(header, ImageHeader)
        assert (header.width, header.height, header.count, header.dtype) == (40, 30, 2, "uint16")
        assert header.crs == "EPSG:32633" and header.transform == TRANSFORM and header.nodata == 7
        assert header.href == (value if isinstance(value, str) else str(scene))
    assert header.bands == (2,) and header.window is None


def test_inline_scene_header_has_a_data_uri_href_that_reads_the_same_raster(scene, policy):
    encoded = base64.b64encode(scene.read_bytes()).decode()
    header = read_header(encoded, policy, field="scene")
    assert header.href.startswith("data:") and header.width == 40
    again = read_header({"href": header.href}, policy, field="scene")
    assert (again.width, again.height, again.transform) == (40, 30, TRANSFORM)
    raw = body_to_payload(scene.read_bytes(), SCHEMA)
    assert resolve_inputs(raw, SCHEMA, policy, georeferenced=set())["scene"].height == 30


@pytest.mark.parametrize(("value", "error", "fault"), [
    ({"href": "/etc/hostname"}, Forbidden, "'scene'"),
    ({"href": "SUkqAA=="}, BadRequest, "'scene'"),
    ("ftp://host/scene.tif", BadRequest, "scheme 'ftp'"),
])
def test_scene_locations_are_checked_either_way(value, error, fault, policy):
    with pytest.raises(error, match=re.escape(fault)):
        check_inputs({"scene": value}, SCHEMA, policy)


def test_header_of_a_file_that_is_not_a_raster_or_a_window_too_large_is_422(root, scene, policy):
    (root / "notes.txt").write_text("hello")
    with pytest.raises(UnprocessableInput, match="'scene'.*notes.txt"):
        read_header(str(root / "notes.txt"), policy, field="scene")
    window = {"col_off": 35, "row_off": 0, "width": 10, "height": 5}
    with pytest.raises(UnprocessableInput, match="does not fit"):
        read_header({"href": str(scene), "window": window}, policy, field="scene")


def test_an_imageref_href_may_be_a_data_uri(scene, policy):
    window = {"col_off": 20, "row_off": 10, "width": 10, "height": 5}
    payload = {"scene": str(scene), "first": {"href": data_uri(scene), "window": window,
                                              "margin": 3}}
    check_inputs(payload, SCHEMA, policy)
    first = resolve_inputs(payload, SCHEMA, policy, georeferenced={"first"})["first"]
    expected = np.arange(2 * 30 * 40, dtype=np.uint16).reshape(2, 30, 40)
    assert first.margin == (3, 3, 3, 3)
    np.testing.assert_array_equal(first.core().data, expected[:, 10:15, 20:30])
    with pytest.raises(BadRequest, match="'first'"):
        check_inputs({"scene": str(scene), "first": {"href": "data:image/tiff;base64,*%*"}},
                     SCHEMA, policy)


def test_an_imageref_read_is_a_refimage_knowing_its_window_and_asked_margin(scene, policy):
    window = {"col_off": 30, "row_off": 0, "width": 10, "height": 5}
    payload = {"scene": str(scene), "first": {"href": scene.as_uri(), "window": window,
                                              "margin": 4}}

    def process(scene, first: RefImage):
        return None

    assert georeferenced_parameters(process) == {"first"}
    first = resolve_inputs(payload, SCHEMA, policy, georeferenced={"first"})["first"]
    assert isinstance(first, RefImage) and first.href == scene.as_uri()
    assert first.margin == (0, 4, 4, 0) and first.ref_margin == 4  # clipped at the borders
    assert (first.window.col_off, first.window.width) == (30, 10)
    assert isinstance(first.window, Window)  # the runtime's one window type, not rasterio's
    assert first.raster_shape == (30, 40)
    core = first.core()
    assert isinstance(core, RefImage) and core.window == first.window and core.shape == (2, 5, 10)
    whole = resolve_inputs({"scene": str(scene), "first": {"href": str(scene)}}, SCHEMA, policy,
                           georeferenced={"first"})["first"]
    assert (whole.window.width, whole.window.height, whole.ref_margin) == (40, 30, 0)
