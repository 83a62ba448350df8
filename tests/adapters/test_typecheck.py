"""Type checks of a spec against its services' describe documents."""

from __future__ import annotations

import pytest
from pesto_factory.adapters.pipeline import SpecError, check_types, load_pipeline, output_schema

from tests.adapters.conftest import SQUARES

HEAD = """\
name: typed
inputs:
  count: {type: integer, default: 2}
  word: {type: string, default: w}
  scene: {type: Image, default: "s3://b/k"}
services:
  split: {project: {services}/split}
  square: {project: {services}/square}
  sum: {project: {services}/sum}
steps:
  - id: split
    service: split
    inputs: {count: "${inputs.count}"}
"""


def _faults(write_spec, describes, steps: str, outputs: str = "") -> dict[str, str]:
    pipeline = load_pipeline(write_spec(HEAD + steps + outputs))
    with pytest.raises(SpecError) as caught:
        check_types(pipeline, describes)
    return {problem.pointer: problem.message for problem in caught.value.problems}


def test_the_test_chain_type_checks(describes):
    check_types(load_pipeline(SQUARES), describes)
    load_pipeline(SQUARES, describes=describes)  # the same, at load time


def test_output_schema_reads_the_geoprocessing_output_section(describes):
    assert set(output_schema(describes["split"])["properties"]) == {"items", "count"}
    assert output_schema({}) == {}


def test_unknown_output_fields_and_service_inputs(write_spec, describes):
    faults = _faults(write_spec, describes, """\
  - id: squares
    service: square
    foreach: ${split.itemz}
    inputs: {item: "${item}", colour: red}
  - id: total
    service: sum
    inputs: {parts: "${squares}", label: "${squares.nope}"}
""", "outputs:\n  n: ${split.count.deeper}\n  m: ${total.totl}\n")
    assert "${split.itemz}: the output of step 'split' has no field 'itemz' (fields: items, " \
        "count)" in faults["/steps/1/foreach"]
    assert "${squares.nope}: the output of step 'squares' has no field 'nope'" in \
        faults["/steps/2/inputs/label"]
    assert "no field 'totl'" in faults["/outputs/m"]
    assert "/outputs/n" not in faults  # a field of an integer: the schema has no properties


def test_inputs_a_service_does_not_take_or_requires(write_spec, describes):
    faults = _faults(write_spec, describes, """\
  - id: squares
    service: square
    foreach: ${split.items}
    inputs: {item: "${item}", colour: red}
  - id: total
    service: sum
    inputs: {label: x}
""")
    assert faults["/steps/1/inputs/colour"] == (
        "service 'square' has no input 'colour' (inputs: item, latch_dir, fail_index, hold)")
    assert "required input 'parts' of service 'sum' is not given" in faults["/steps/2/inputs"]


SQUARES_STEP = """\
  - id: squares
    service: square
    foreach: ${split.items}
    inputs: {item: "${item}"}
"""


@pytest.mark.parametrize(("steps", "pointer", "message"), [
    (SQUARES_STEP.replace("${split.items}", "${split.count}"), "/steps/1/foreach",
     "foreach over a non-list: ${split.count} is an integer"),
    ("  - {id: total, service: sum, inputs: {parts: '${split}'}}\n", "/steps/1/inputs/parts",
     "input 'parts' of service 'sum' takes a list, but ${split} is one output object: "
     "fan-in needs a fan-out (foreach) step"),
    (SQUARES_STEP + "  - {id: again, service: square, inputs: {item: '${squares}'}}\n",
     "/steps/2/inputs/item", "${squares} is a list ('squares' is a fan-out step), but input "
     "'item' of service 'square' takes an object"),
])
def test_lists_where_they_do_not_belong(write_spec, describes, steps, pointer, message):
    assert _faults(write_spec, describes, steps)[pointer] == message


def test_json_type_mismatches(write_spec, describes):
    faults = _faults(write_spec, describes, """\
  - id: squares
    service: square
    foreach: ${split.items}
    inputs: {item: "${item}", fail_index: "${inputs.word}", latch_dir: "${item.index}"}
  - id: total
    service: sum
    inputs: {parts: "${split.items.value}", label: "${inputs.scene}"}
""")
    assert faults["/steps/1/inputs/fail_index"] == (
        "input 'fail_index' of service 'square' takes an integer, but ${inputs.word} gives a "
        "string")
    assert "takes a string, but ${item.index} gives an integer" in \
        faults["/steps/1/inputs/latch_dir"]
    assert faults["/steps/2/inputs/parts"] == (
        "input 'parts' of service 'sum' takes a list of objects, but ${split.items.value} "
        "gives a list of integers")
    assert "/steps/2/inputs/label" not in faults  # an Image is a string: fine
