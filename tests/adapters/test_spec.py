"""Loading pipeline specs: the model built, and every kind of fault named by file and pointer."""

from __future__ import annotations

from pathlib import Path

import pytest
from pesto_factory.adapters.pipeline import (
    NO_DEFAULT,
    Ref,
    SpecError,
    load_pipeline,
    parse_pipeline,
)

from tests.adapters.conftest import SERVICES, SQUARES

REPO = Path(__file__).resolve().parents[2]

GOOD = """\
name: chain
inputs:
  count: {type: integer, default: 2}
  label: {type: string}
services:
  split: {project: {services}/split}
  square: {project: {services}/square}
  sum: {project: {services}/sum, profiles: [fast]}
steps:
  - id: total
    service: sum
    inputs:
      parts: ${squares}
      label: ${inputs.label}
  - id: squares
    service: square
    foreach: ${split.items}
    inputs:
      item: ${item}
      options: {deep: [1, "${inputs.count}"]}
  - id: split
    service: split
    inputs: {count: "${inputs.count}"}
outputs:
  total: ${total.total}
  constant: 7
"""


def test_a_good_spec_becomes_frozen_values_in_a_run_order(write_spec):
    pipeline = load_pipeline(write_spec(GOOD))
    assert pipeline.name == "chain"
    assert pipeline.order == ("split", "squares", "total")  # dependencies first
    assert [step.id for step in pipeline.steps] == ["total", "squares", "split"]  # spec order
    assert pipeline.inputs["count"].default == 2 and not pipeline.inputs["count"].required
    assert pipeline.inputs["label"].default is NO_DEFAULT and pipeline.inputs["label"].required
    assert pipeline.services["sum"].profiles == ("fast",)
    assert pipeline.services["split"].project == SERVICES / "split"
    assert pipeline.services["split"].kind == "project"
    squares = pipeline.step("squares")
    assert squares.fan_out and squares.item == "item"
    assert squares.foreach == Ref("step", "split", ("items",))
    assert squares.inputs["item"] == Ref("item", "item")
    assert squares.inputs["options"] == {"deep": [1, Ref("input", "count")]}
    assert pipeline.step("total").depends_on == ("squares",)
    assert pipeline.outputs == {"total": Ref("step", "total", ("total",)), "constant": 7}
    with pytest.raises(TypeError):
        squares.inputs["item"] = 1  # type: ignore[index]
    with pytest.raises(AttributeError):
        pipeline.name = "other"  # type: ignore[misc]


def test_refs_write_back_as_conductor_like_expressions():
    assert Ref("input", "scene").text == "${inputs.scene}"
    assert Ref("step", "tiling", ("tiles",)).text == "${tiling.tiles}"
    assert str(Ref("item", "tile", ("href",))) == "${tile.href}"


def test_project_paths_are_relative_to_the_spec(tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "svc").mkdir()
    spec = tmp_path / "specs" / "p.yaml"
    spec.write_text("name: p\nservices: {s: {project: ../svc}}\nsteps: [{id: a, service: s}]\n")
    assert load_pipeline(spec).services["s"].project == tmp_path / "svc"


def test_the_test_chain_loads():
    assert load_pipeline(SQUARES).order == ("split", "squares", "total")


def _problems(path: Path) -> list[tuple[str, int | None, str]]:
    with pytest.raises(SpecError) as caught:
        load_pipeline(path)
    error = caught.value
    assert error.path == str(path)
    assert str(path) in error.message
    for problem in error.problems:
        assert f"at {problem.pointer or '/'}" in error.message
    return [(p.pointer, p.line, p.message) for p in error.problems]


def _only(problems, pointer: str) -> str:
    found = [message for at, _, message in problems if at == pointer]
    assert found, f"no problem at {pointer}: {problems}"
    return found[0]


@pytest.mark.parametrize(("text", "pointer", "fault"), [
    ("name: 1x\nservices: {s: {url: 'http://h'}}\nsteps: [{id: a, service: s}]",
     "/name", "a name starts with a letter"),
    ("name: x\nservices: {s: {url: 'http://h'}}\nsteps: []", "/steps", "non-empty"),
    ("name: x\nservices: {s: {}}\nsteps: [{id: a, service: s}]",
     "/services/s", "exactly one of project, image or url"),
    ("name: x\nservices: {s: {url: 'http://h', image: 'a:1'}}\nsteps: [{id: a, service: s}]",
     "/services/s", "exactly one of project, image or url"),
    ("name: x\nservices: {s: {image: nope}}\nsteps: [{id: a, service: s}]",
     "/services/s/image", "name:tag"),
    ("name: x\nservices: {s: {url: 'ftp://h'}}\nsteps: [{id: a, service: s}]",
     "/services/s/url", "http://"),
    ("name: x\ninputs: {n: {type: int}}\nservices: {s: {url: 'http://h'}}\n"
     "steps: [{id: a, service: s}]", "/inputs/n/type", "'int' is not one of"),
    ("name: x\nservices: {s: {url: 'http://h'}}\nsteps: [{id: a, service: s, colour: red}]",
     "/steps/0", "'colour' was unexpected"),
    ("name: x\nservices: {s: {url: 'http://h'}}\nsteps: [{id: a, service: s, as: t}]",
     "/steps/0", "give 'foreach' too"),
    ("name: x\nservices: {s: {url: 'http://h'}}\nsteps: [{id: a, service: s, foreach: [1]}]",
     "/steps/0/foreach", "is not of type 'string'"),
    ("name: x\nservices: {s: {url: 'http://h'}}\nsteps: [{id: a, service: s, foreach: 'a.b'}]",
     "/steps/0/foreach", "one ${...} expression"),
])
def test_schema_faults_name_the_file_the_pointer_and_the_fault(write_spec, text, pointer, fault):
    problems = _problems(write_spec(text))
    assert fault in _only(problems, pointer)


def test_yaml_syntax_errors_give_line_and_column(write_spec):
    path = write_spec("name: x\nsteps:\n  - id: a\n   service: b\n")
    with pytest.raises(SpecError) as caught:
        load_pipeline(path)
    assert str(path) in caught.value.message
    assert "invalid YAML at line 4, column 4" in caught.value.message


def test_duplicate_keys_and_non_mappings_are_faults(write_spec):
    problems = _problems(write_spec("name: x\nname: y\n"))
    assert problems == [("/name", 2, "duplicate key 'name'")]
    assert "not a list" in _only(_problems(write_spec("- 1\n- 2\n")), "")
    assert "empty" in _only(_problems(write_spec("\n")), "")


def test_a_missing_file_is_named():
    with pytest.raises(SpecError, match=r"nowhere\.yaml: at /: cannot read the spec"):
        load_pipeline(Path("nowhere.yaml"))


def test_reference_faults_each_name_their_pointer_and_line(write_spec):
    path = write_spec("""\
        name: refs
        inputs:
          n: {type: integer}
        services:
          a: {project: {services}/split}
        steps:
          - id: first
            service: a
            inputs:
              x: ${later.y}
              y: ${inputs.m}
              z: pre ${inputs.n}
              w: ${item}
              self: ${first.x}
          - id: later
            service: missing
            foreach: ${first}
          - id: third
            service: a
            foreach: ${inputs.n}
          - id: later
            service: a
          - id: inputs
            service: a
        outputs:
          o: ${tile.x}
          p: ${nothing}
        """)
    problems = _problems(path)
    assert "is not an expression" in _only(problems, "/steps/0/inputs/z")
    assert "no pipeline input 'm' (inputs: n)" in _only(problems, "/steps/0/inputs/y")
    assert "exists only in that step's inputs" in _only(problems, "/steps/0/inputs/w")
    assert "cannot read its own output" in _only(problems, "/steps/0/inputs/self")
    assert "no service named 'missing'" in _only(problems, "/steps/1/service")
    assert "foreach over a non-list: ${first} is the output object" in _only(
        problems, "/steps/1/foreach")
    assert "foreach over a non-list: input 'n' is integer" in _only(problems, "/steps/2/foreach")
    assert "duplicate step id 'later'" in _only(problems, "/steps/3/id")
    assert "'inputs' is reserved" in _only(problems, "/steps/4/id")
    assert "no step 'nothing'" in _only(problems, "/outputs/p")
    lines = {pointer: line for pointer, line, _ in problems}
    assert lines["/steps/0/inputs/y"] == 11 and lines["/steps/2/foreach"] == 20


def test_item_names_and_missing_projects(write_spec):
    problems = _problems(write_spec("""\
        name: items
        services:
          a: {project: {services}/split}
          gone: {project: ./no-such-folder}
        steps:
          - {id: s, service: a}
          - {id: t, service: a, foreach: "${s.items}", as: s, inputs: {v: "${s}"}}
        outputs:
          x: ${item}
        """))
    assert "item name 's' is also a step id" in _only(problems, "/steps/1/as")
    assert "no such project folder" in _only(problems, "/services/gone/project")
    assert "exists only in that step's inputs" in _only(problems, "/outputs/x")


def test_cycles_are_found_and_shown_as_a_path(write_spec):
    problems = _problems(write_spec("""\
        name: loop
        services: {a: {url: "http://127.0.0.1:1"}}
        steps:
          - {id: one, service: a, inputs: {x: "${three.v}"}}
          - {id: two, service: a, inputs: {x: "${one.v}"}}
          - {id: three, service: a, inputs: {x: "${two.v}"}}
          - {id: free, service: a}
        """))
    message = _only(problems, "/steps")
    assert "cycle" in message
    path = message.split(": ", 1)[1].split(" -> ")
    assert path[0] == path[-1] and set(path) == {"one", "two", "three"}


def test_parse_pipeline_takes_text_and_a_base_folder():
    pipeline = parse_pipeline(
        "name: t\nservices: {s: {project: split}}\nsteps: [{id: a, service: s}]",
        base_dir=SERVICES)
    assert pipeline.services["s"].project == SERVICES / "split"
    assert pipeline.source is None
    with pytest.raises(SpecError, match=r"^pipeline spec: at /steps"):
        parse_pipeline("name: t\nservices: {s: {url: 'http://h'}}\nsteps: []")
