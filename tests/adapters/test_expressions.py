"""`${...}` expressions (compiling, resolving) and a run's input values."""

from __future__ import annotations

from pathlib import Path

import pytest
from pesto_factory.adapters.pipeline import (
    ExpressionError,
    InputError,
    Ref,
    ResolutionError,
    Scope,
    bind_inputs,
    compile_value,
    load_pipeline,
    map_refs,
    parse_expression,
    parse_input_args,
    resolve,
)


@pytest.mark.parametrize(("text", "ref"), [
    ("${inputs.scene}", Ref("input", "scene")),
    ("${ inputs.scene.href }", Ref("input", "scene", ("href",))),
    ("${tiling.tiles}", Ref("step", "tiling", ("tiles",))),
    ("${detect}", Ref("step", "detect")),
    ("${tiling.tiles.0.window.col_off}", Ref("step", "tiling", ("tiles", "0", "window",
                                                                 "col_off"))),
    ("${tile}", Ref("item", "tile")),
    ("${tile.href}", Ref("item", "tile", ("href",))),
    ("${cloud-detection.mask}", Ref("step", "cloud-detection", ("mask",))),
])
def test_expressions_compile_to_refs(text, ref):
    assert parse_expression(text, item="tile") == ref


def test_plain_strings_stay_strings_and_the_item_needs_its_step():
    assert parse_expression("file:///data/x.tif") is None
    assert parse_expression("${tile}") == Ref("step", "tile")  # outside its foreach step


@pytest.mark.parametrize("text", ["${}", "${inputs}", "x${a}", "${a}${b}", "${a b}", "${1a}",
                                  "${a..b}", "${a.b", "${a.$b}"])
def test_malformed_expressions_are_refused(text):
    with pytest.raises(ExpressionError):
        parse_expression(text)


def test_compile_value_walks_nested_literals_and_collects_faults():
    faults: list[tuple[str, str]] = []
    value = compile_value({"a": ["${x.y}", {"b": "keep"}], "c": "bad ${x}", "d": 3},
                          pointer="/in", errors=faults)
    assert value == {"a": [Ref("step", "x", ("y",)), {"b": "keep"}], "c": "bad ${x}", "d": 3}
    assert [pointer for pointer, _ in faults] == ["/in/c"]


def test_resolution_reads_inputs_steps_items_and_projects_lists():
    scope = Scope(
        inputs={"scene": "file:///s.tif", "n": 3},
        steps={"tiling": {"tiles": [{"href": "a", "w": {"x": 1}}, {"href": "b", "w": {"x": 2}}]},
               "detect": [{"mask": "m0", "f": 0.5}, {"mask": "m1", "f": 0.25}]},
        items={"tile": {"href": "a"}})
    value = {
        "scene": Ref("input", "scene"),
        "tiles": Ref("step", "tiling", ("tiles",)),
        "second": Ref("step", "tiling", ("tiles", "1", "href")),
        "xs": Ref("step", "tiling", ("tiles", "w", "x")),
        "all": Ref("step", "detect"),
        "masks": Ref("step", "detect", ("mask",)),
        "tile": Ref("item", "tile", ("href",)),
        "nested": [Ref("input", "n"), {"literal": True}],
    }
    assert resolve(value, scope) == {
        "scene": "file:///s.tif",
        "tiles": scope.steps["tiling"]["tiles"],
        "second": "b",
        "xs": [1, 2],
        "all": scope.steps["detect"],
        "masks": ["m0", "m1"],
        "tile": "a",
        "nested": [3, {"literal": True}],
    }


@pytest.mark.parametrize(("ref", "message"), [
    (Ref("step", "tiling", ("tilez",)), "${tiling.tilez}: no field 'tilez' (fields: tiles)"),
    (Ref("step", "tiling", ("tiles", "5")), "index 5 is out of range (the list has 1 items)"),
    (Ref("step", "tiling", ("tiles", "0", "href", "x")), "cannot read field 'x' of a string"),
    (Ref("step", "later"), "no finished step named 'later'"),
    (Ref("item", "tile"), "no current item named 'tile'"),
])
def test_resolution_faults_name_the_expression(ref, message):
    scope = Scope(inputs={}, steps={"tiling": {"tiles": [{"href": "a"}]}})
    with pytest.raises(ResolutionError) as caught:
        resolve(ref, scope)
    assert message in caught.value.message
    assert ref.text in caught.value.message


INPUTS_SPEC = """\
name: typed
inputs:
  scene: {type: Image}
  ref: {type: ImageRef, default: null}
  size: {type: integer, default: 256}
  ratio: {type: number, default: 0.5}
  label: {type: string, default: x}
  flag: {type: boolean, default: false}
  extra: {type: object, default: {}}
  names: {type: array, default: []}
services: {s: {url: "http://127.0.0.1:1"}}
steps: [{id: a, service: s}]
"""


def test_input_words_parse_as_json_except_for_images_and_strings(write_spec):
    pipeline = load_pipeline(write_spec(INPUTS_SPEC))
    values = parse_input_args(pipeline, [
        "scene=123", "size=512", "ratio=1e-1", "label=42", "flag=true", "extra={\"a\": 1}",
        "names=[\"x\"]", "ref=data/x.tif"])
    assert values == {"scene": "123", "size": 512, "ratio": 0.1, "label": "42", "flag": True,
                      "extra": {"a": 1}, "names": ["x"], "ref": "data/x.tif"}
    with pytest.raises(InputError, match="expected NAME=VALUE"):
        parse_input_args(pipeline, ["size"])


def test_bind_inputs_fills_defaults_turns_paths_into_uris_and_checks_types(write_spec, tmp_path):
    pipeline = load_pipeline(write_spec(INPUTS_SPEC))
    scene = tmp_path / "scene.tif"
    scene.write_bytes(b"x")
    bound = bind_inputs(pipeline, {"scene": "scene.tif", "ref": str(scene)}, base_dir=tmp_path)
    assert bound == {"scene": scene.as_uri(), "ref": {"href": scene.as_uri()}, "size": 256,
                     "ratio": 0.5, "label": "x", "flag": False, "extra": {}, "names": []}
    assert bind_inputs(pipeline, {"scene": "s3://bucket/key.tif"})["scene"] == \
        "s3://bucket/key.tif"
    ref = bind_inputs(pipeline, {"scene": "s3://b/k", "ref": {"href": str(scene), "margin": 4}})
    assert ref["ref"] == {"href": scene.as_uri(), "margin": 4}


@pytest.mark.parametrize(("given", "message"), [
    ({}, "input 'scene' (Image) is required"),
    ({"scene": "s3://b/k", "colour": 1}, "has no input 'colour' (inputs: scene, ref,"),
    ({"scene": "s3://b/k", "size": "big"}, "input 'size': expected integer, got 'big'"),
    ({"scene": "s3://b/k", "size": True}, "input 'size': expected integer, got True"),
    ({"scene": "s3://b/k", "ratio": "x"}, "input 'ratio': expected number"),
    ({"scene": "s3://b/k", "ref": {"margin": 1}}, "an ImageRef needs an 'href' string"),
    ({"scene": "missing.tif"}, "input 'scene': no such file"),
])
def test_bad_inputs_are_named(write_spec, given, message):
    pipeline = load_pipeline(write_spec(INPUTS_SPEC))
    with pytest.raises(InputError) as caught:
        bind_inputs(pipeline, given, base_dir=Path("/nonexistent"))
    assert message in caught.value.message


def test_map_refs_rewrites_expressions_for_another_syntax():
    value = {"tile": Ref("item", "tile"), "deep": [Ref("step", "tiling", ("tiles",)), 1]}

    def conductor(ref: Ref) -> str:
        return "${" + ".".join((ref.name, "output", *ref.path)) + "}"

    assert map_refs(value, conductor) == {"tile": "${tile.output}",
                                          "deep": ["${tiling.output.tiles}", 1]}
