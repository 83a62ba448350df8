"""The payload bridge: schema checks on the request path, images in and out in the worker."""

from __future__ import annotations

import base64
import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pesto_factory.runtime.errors import AlgorithmFailed, BadRequest, Forbidden, UnprocessableInput
from pesto_factory.runtime.geoimage import GeoImage
from pesto_factory.runtime.imageio import InputPolicy, write_image
from pesto_factory.runtime.payload import (
    OutputFile,
    RawImage,
    body_to_payload,
    check_inputs,
    encode_outputs,
    georeferenced_parameters,
    resolve_inputs,
)
from pesto_factory.runtime.project import ServiceProject, bundle_definitions
from rasterio.transform import from_origin

from tests.runtime.imageio import imageio_fixtures

root = imageio_fixtures.root  # fixtures shared with the image I/O tests
policy = imageio_fixtures.policy
NDVI = Path(__file__).resolve().parents[2] / "examples" / "ndvi"
TRANSFORM = from_origin(500_000.0, 4_000_000.0, 20.0, 20.0)


def bundled(properties: dict, required: list[str] = (), **extra) -> dict:
    schema = {"type": "object", "properties": properties, "required": list(required), **extra}
    return bundle_definitions(schema, {})


INPUTS = bundled({
    "scene": {"$ref": "#/definitions/Image"},
    "extra": {"$ref": "#/definitions/Images"},
    "tile": {"$ref": "#/definitions/ImageRef"},
    "tiles": {"$ref": "#/definitions/ImageRefs"},
    "threshold": {"type": "number", "default": 0.5},
    "options": {"type": "object", "properties": {"mode": {"type": "string", "default": "fast"}}},
}, required=["scene"], additionalProperties=False)


@pytest.fixture
def scene(root: Path) -> Path:
    data = np.arange(4 * 30 * 40, dtype=np.uint16).reshape(4, 30, 40)
    return write_image(GeoImage(data, crs="EPSG:32633", transform=TRANSFORM, nodata=0),
                       root / "scene.tif")


@pytest.fixture
def ndvi() -> ServiceProject:
    return ServiceProject.load(NDVI)


# --- check_inputs ----------------------------------------------------------------------------
def test_valid_payload_passes_and_gets_its_defaults(ndvi, scene, policy):
    payload = {"image": scene.as_uri()}
    check_inputs(payload, ndvi.input_schema, policy)
    assert payload == {"image": scene.as_uri(), "red_band": 3, "nir_band": 4}


def test_nested_defaults_are_filled(scene, policy):
    payload = {"scene": str(scene), "options": {}, "tiles": [{"href": str(scene)}]}
    check_inputs(payload, INPUTS, policy)
    assert payload["threshold"] == 0.5 and payload["options"] == {"mode": "fast"}
    assert payload["tiles"] == [{"href": str(scene), "margin": 0}]


@pytest.mark.parametrize(("payload", "pointer", "field"), [
    ({}, "/scene", "scene"),
    ({"scene": "/x.tif", "threshold": "high"}, "/threshold", "threshold"),
    ({"scene": "/x.tif", "unknown": 1}, "/unknown", "unknown"),
    ({"scene": "/x.tif", "extra": ["/a.tif", 7]}, "/extra/1", "extra"),
    ({"scene": "/x.tif", "tiles": [{"href": "/a.tif"}, {"href": "/a.tif", "window": {
        "col_off": 0, "row_off": 0, "width": 0, "height": 5}}]}, "/tiles/1/window/width", "tiles"),
    ({"scene": "/x.tif", "tile": {"window": {}}}, "/tile/href", "tile"),
])
def test_schema_errors_name_the_pointer_and_field(payload, pointer, field, policy):
    with pytest.raises(BadRequest) as caught:
        check_inputs(payload, INPUTS, policy)
    assert f"at {pointer}:" in caught.value.message and f"{field!r}" in caught.value.message
    assert caught.value.status_code == 400


def test_huge_values_are_not_echoed_in_errors(policy):
    huge = "QUJD" * 250_000
    with pytest.raises(BadRequest) as caught:
        check_inputs({"scene": "/x.tif", "threshold": huge}, INPUTS, policy)
    assert len(caught.value.message) < 400 and "1000000 characters" in caught.value.message
    with pytest.raises(BadRequest, match="JSON object"):
        check_inputs(["not", "an", "object"], INPUTS, policy)  # type: ignore[arg-type]


def test_locations_outside_the_roots_are_forbidden_naming_the_field(root, policy):
    inside = str(root / "a.tif")  # need not exist: nothing is opened on the request path
    cases = [
        ({"scene": "file:///etc/passwd"}, "'scene'"),
        ({"scene": inside, "extra": [inside, "/etc/passwd"]}, "'extra[1]'"),
        ({"scene": inside, "tile": {"href": f"{root}/../secret.tif"}}, "'tile'"),
        ({"scene": inside, "tiles": [{"href": inside}, {"href": "/etc/shadow"}]}, "'tiles[1]'"),
    ]
    for payload, field in cases:
        with pytest.raises(Forbidden, match=re.escape(field)):
            check_inputs(payload, INPUTS, policy)
    remote = InputPolicy(readable_roots=policy.readable_roots, remote_hosts=("*",))
    check_inputs({"scene": inside, "tiles": [{"href": "s3://bucket/t.tif"}],
                  "extra": ["https://example.org/a.tif"]}, INPUTS, remote)


def test_bad_schemes_and_bad_base64_are_bad_requests(policy):
    with pytest.raises(BadRequest, match="scheme 'ftp'"):
        check_inputs({"scene": "ftp://host/a.tif"}, INPUTS, policy)
    with pytest.raises(BadRequest, match="'scene'.*base64"):
        check_inputs({"scene": "SUkq*not base64*"}, INPUTS, policy)
    with pytest.raises(BadRequest, match="'tile'"):
        check_inputs({"scene": "SUkqAA==", "tile": {"href": "SUkqAA=="}}, INPUTS, policy)
    check_inputs({"scene": "data:image/tiff;base64,SUkqAA=="}, INPUTS, policy)


# --- resolve_inputs --------------------------------------------------------------------------
def test_images_become_arrays_or_geoimages_as_the_signature_asks(scene, policy):
    encoded = base64.b64encode(scene.read_bytes()).decode()
    window = {"col_off": 10, "row_off": 5, "width": 8, "height": 6}
    payload = {"scene": scene.as_uri(), "extra": [encoded, str(scene)],
               "tile": {"href": str(scene), "window": window, "margin": 2},
               "tiles": [{"href": str(scene), "window": window}], "threshold": 0.7}
    check_inputs(payload, INPUTS, policy)
    kwargs = resolve_inputs(payload, INPUTS, policy, georeferenced={"tile", "tiles"})
    expected = np.arange(4 * 30 * 40, dtype=np.uint16).reshape(4, 30, 40)
    assert isinstance(kwargs["scene"], np.ndarray) and kwargs["scene"].shape == (4, 30, 40)
    np.testing.assert_array_equal(kwargs["scene"], expected)
    assert [type(x) for x in kwargs["extra"]] == [np.ndarray, np.ndarray]
    tile = kwargs["tile"]
    assert isinstance(tile, GeoImage) and tile.margin == (2, 2, 2, 2) and tile.shape == (4, 10, 12)
    np.testing.assert_array_equal(tile.core().data, expected[:, 5:11, 10:18])
    assert isinstance(kwargs["tiles"], list) and kwargs["tiles"][0].shape == (4, 6, 8)
    assert kwargs["threshold"] == 0.7 and "options" not in kwargs


def test_resolve_inputs_fills_defaults_and_names_unreadable_inputs(root, policy):
    kwargs = resolve_inputs({"scene": None}, INPUTS, policy, georeferenced=set())
    assert kwargs == {"scene": None, "threshold": 0.5}
    (root / "junk.tif").write_text("not a raster")
    with pytest.raises(UnprocessableInput, match="'extra\\[0\\]'.*junk.tif"):
        resolve_inputs({"scene": None, "extra": [str(root / "junk.tif")]}, INPUTS, policy,
                       georeferenced=set())


def test_georeferenced_parameters_reads_annotations_even_as_strings(ndvi):
    def process(a: GeoImage, b: list[GeoImage], c: GeoImage | None, d: np.ndarray,
                e: int = 1, g: list[np.ndarray] = ()):
        return None

    def unresolvable(a: Undefined, b: Undefined | GeoImage, c: int):  # noqa: F821
        return None

    assert georeferenced_parameters(process) == {"a", "b", "c"}
    assert georeferenced_parameters(unresolvable) == {"b"}

    import importlib.util
    spec = importlib.util.spec_from_file_location("ndvi_process", ndvi.algorithm_dir / "process.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert georeferenced_parameters(module.Process().process) == {"image"}


# --- raw bodies ------------------------------------------------------------------------------
def test_a_raw_body_becomes_a_raw_image_read_without_base64(ndvi, scene, policy):
    payload = body_to_payload(scene.read_bytes(), ndvi.input_schema)
    assert isinstance(payload["image"], RawImage) and payload["red_band"] == 3
    assert pickle.loads(pickle.dumps(payload))["image"] == payload["image"]
    assert "bytes" in repr(payload["image"]) and len(repr(payload["image"])) < 40
    check_inputs(payload, ndvi.input_schema, policy)
    kwargs = resolve_inputs(payload, ndvi.input_schema, policy, georeferenced={"image"})
    assert kwargs["image"].crs == "EPSG:32633" and kwargs["image"].transform == TRANSFORM


@pytest.mark.parametrize(("schema", "fault"), [
    (bundled({"a": {"$ref": "#/definitions/Image"}, "b": {"$ref": "#/definitions/Image"}},
             ["a", "b"]), "has 2 \\(a, b\\)"),
    (bundled({"n": {"type": "integer"}}, ["n"]), "has 0"),
    (bundled({"a": {"$ref": "#/definitions/Image"}}), "has 0"),
    (bundled({"a": {"$ref": "#/definitions/Image"}, "k": {"type": "integer"}}, ["a", "k"]),
     "also requires k"),
])
def test_a_raw_body_needs_exactly_one_required_image(schema, fault):
    with pytest.raises(BadRequest, match=fault):
        body_to_payload(b"II*\0", schema)
    with pytest.raises(BadRequest, match="empty"):
        body_to_payload(b"", schema)


# --- encode_outputs --------------------------------------------------------------------------
def ndvi_result() -> dict:
    values = np.linspace(-1, 1, 30 * 40, dtype=np.float32).reshape(1, 30, 40)
    values[0, 0, 0] = np.nan
    image = GeoImage(values, crs="EPSG:32633", transform=TRANSFORM, nodata=np.nan)
    return {"ndvi": image, "mean": np.float32(0.25)}


def test_outputs_by_reference_are_cog_uris(ndvi, tmp_path):
    value, files = encode_outputs(ndvi_result(), ndvi.output_schema, tmp_path, inline=False)
    assert value["mean"] == 0.25 and isinstance(value["mean"], float)
    assert value["ndvi"] == (tmp_path / "ndvi.tif").as_uri()
    assert files == (OutputFile("ndvi", tmp_path / "ndvi.tif",
                                "image/tiff; application=geotiff; profile=cloud-optimized"),)
    with rasterio.open(tmp_path / "ndvi.tif") as src:
        assert src.read().tobytes() == ndvi_result()["ndvi"].data.tobytes()
        assert src.crs == "EPSG:32633" and src.transform == TRANSFORM
    json.dumps(value, allow_nan=False)


def test_outputs_inline_are_base64_of_the_same_file(ndvi, tmp_path):
    value, files = encode_outputs(ndvi_result(), ndvi.output_schema, tmp_path, inline=True)
    assert base64.b64decode(value["ndvi"]) == files[0].path.read_bytes()


def test_lists_refs_numpy_values_and_a_bare_image_output(tmp_path):
    schema = bundled({
        "masks": {"$ref": "#/definitions/Images"},
        "tile": {"$ref": "#/definitions/ImageRef"},
        "tiles": {"$ref": "#/definitions/ImageRefs"},
        "histogram": {"type": "array", "items": {"type": ["number", "null"]}},
        "stats": {"type": "object"},
    })
    mask = np.ones((5, 6), dtype=bool)
    result = {"masks": [mask, mask.astype(np.uint8)], "tile": GeoImage(np.zeros((1, 3, 3))),
              "tiles": [np.zeros((2, 2), np.int16)], "histogram": np.array([1.5, np.nan]),
              "stats": {"count": np.int64(7), "flags": np.array([True, False])}}
    value, files = encode_outputs(result, schema, tmp_path, inline=True)
    assert [f.name for f in files] == ["masks_0", "masks_1", "tile", "tiles_0"]
    assert isinstance(value["masks"][0], str) and len(value["masks"]) == 2
    assert value["tile"] == {"href": (tmp_path / "tile.tif").as_uri()}  # refs stay references
    assert value["tiles"] == [{"href": (tmp_path / "tiles_0.tif").as_uri()}]
    assert value["histogram"] == [1.5, None]
    assert value["stats"] == {"count": 7, "flags": [True, False]}

    image_schema = bundle_definitions({"$ref": "#/definitions/Image"}, {})
    single, files = encode_outputs(mask, image_schema, tmp_path / "bare", inline=False)
    assert single == (tmp_path / "bare" / "output.tif").as_uri() and len(files) == 1


@pytest.mark.parametrize(("result", "fault"), [
    ({"ndvi": 5, "mean": 0.1}, "'ndvi' must be an image"),
    ({"ndvi": np.zeros((3, 3)), "mean": "high"}, "'mean'"),
    ({"ndvi": np.zeros((3, 3))}, "'mean'"),
    ([np.zeros((3, 3)), 0.1], "returned a list"),
    ({"ndvi": np.zeros((3, 3)), "mean": GeoImage(np.zeros((1, 2, 2)))}, "'mean' is an image"),
    ({"ndvi": np.array([["x"]]), "mean": 0.1}, "'ndvi': cannot write"),
])
def test_a_wrong_result_fails_the_algorithm_and_leaves_no_files(ndvi, tmp_path, result, fault):
    with pytest.raises(AlgorithmFailed, match=fault):
        encode_outputs(result, ndvi.output_schema, tmp_path, inline=False)
    assert list(tmp_path.iterdir()) == []
