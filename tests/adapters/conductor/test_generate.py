"""The Conductor generator: task definitions and workflows, checked through the SDK's models
and by running the generated JQ on the values Conductor would hand it (libjq, as jackson-jq)."""

from __future__ import annotations

import jq
import pytest
from conductor.client.http.api_client import ApiClient
from pesto_factory.adapters.conductor import (
    GenerationError,
    TaskSettings,
    generate_task_def,
    generate_workflow,
    task_name,
)
from pesto_factory.adapters.pipeline import parse_pipeline


def _describe(name: str, inputs: dict, outputs: dict) -> dict:
    return {"name": name, "title": name.title(), "version": "1.0.0", "email": "a@b.org",
            "description": f"the {name} service",
            "input": {"type": "object", "properties": inputs},
            "output": {"content": {"application/json": {"schema": {
                "type": "object", "properties": outputs}}}}}


DESCRIBES = {
    "split": _describe("pesto/split", {"value": {"type": "integer", "default": 3},
                                       "scale": {"type": "integer"}},
                       {"items": {"type": "array", "items": {"type": "object"}},
                        "count": {"type": "integer"}}),
    "square": _describe("pesto/square", {"x": {"type": "object"}, "scale": {},
                                         "label": {"type": "string"}},
                        {"y": {"type": "integer"}}),
    "sum": _describe("pesto/sum", {"values": {"type": "array"}, "first": {}},
                     {"total": {"type": "integer"}}),
}

SPEC = """
name: squares
description: square each item, then add them up
inputs:
  value: {type: integer, default: 4}
  scale: {type: integer}
services:
  split: {url: "http://127.0.0.1:1"}
  square: {url: "http://127.0.0.1:2"}
  sum: {url: "http://127.0.0.1:3"}
steps:
  - id: total
    service: sum
    inputs:
      values: ${each.y}
      first: ${each.0}
  - id: each
    service: square
    foreach: ${split.items}
    as: it
    inputs:
      x: ${it}
      scale: [1, "${inputs.scale}", {deep: "${split.count}"}]
      label: ${it.name}
  - id: split
    service: split
    inputs:
      value: ${inputs.value}
      scale: ${split_x.items.2.k}
  - id: split_x
    service: split
    inputs: {value: 1}
outputs:
  total: ${total.total}
  ys: ${each.y}
"""


@pytest.fixture(scope="module")
def workflow() -> dict:
    describes = {**DESCRIBES}
    pipeline = parse_pipeline(SPEC.replace("split_x", "first"), describes=None)
    return generate_workflow(pipeline, describes)


def _task(workflow: dict, ref: str) -> dict:
    return next(t for t in workflow["tasks"] if t["taskReferenceName"] == ref)


def _jq(task: dict, **values) -> object:
    return jq.compile(task["inputParameters"]["queryExpression"]).input_value(values).first()


def test_task_def_names_keys_defaults_and_timeouts():
    task = generate_task_def(DESCRIBES["split"], settings=TaskSettings(retry_count=5))
    assert task["name"] == "pesto_split" == task_name(DESCRIBES["split"])
    assert task_name({"name": "pesto/cloud-detection"}) == "pesto_cloud_detection"
    assert (task["inputKeys"], task["outputKeys"]) == (["value", "scale"], ["items", "count"])
    assert task["inputTemplate"] == {"value": 3}
    assert task["ownerEmail"] == "a@b.org" and task["retryCount"] == 5
    assert 1 <= task["responseTimeoutSeconds"] <= task["timeoutSeconds"]
    assert "do not edit" in task["description"]
    with pytest.raises(GenerationError, match="'output' has no schema properties"):
        generate_task_def({"name": "x", "input": {"properties": {}}})
    with pytest.raises(GenerationError, match="no 'name'"):
        task_name({})


def test_steps_run_in_dependency_order_with_conductor_expressions(workflow):
    refs = [t["taskReferenceName"] for t in workflow["tasks"]]
    assert refs == ["first", "split", "each__fork", "each", "each__join", "each__collect_y",
                    "each__collect_0", "total"]
    split = _task(workflow, "split")
    assert (split["type"], split["name"]) == ("SIMPLE", "pesto_split")
    assert split["inputParameters"] == {"value": "${workflow.input.value}",
                                        "scale": "${first.output.items[2].k}"}
    assert _task(workflow, "total")["inputParameters"] == {
        "values": "${each__collect_y.output.result}", "first": "${each__collect_0.output.result}"}
    assert workflow["outputParameters"] == {"total": "${total.output.total}",
                                            "ys": "${each__collect_y.output.result}"}
    assert workflow["inputParameters"] == ["value", "scale"]
    assert workflow["inputTemplate"] == {"value": 4}
    assert workflow["timeoutSeconds"] > 0 and "do not edit" in workflow["description"]


def test_fan_out_is_a_classic_dynamic_fork_followed_by_its_join(workflow):
    fork = _task(workflow, "each")
    assert fork["type"] == "FORK_JOIN_DYNAMIC"
    params = fork["inputParameters"]
    assert params[fork["dynamicForkTasksParam"]] == "${each__fork.output.result.tasks}"
    assert params[fork["dynamicForkTasksInputParamName"]] == "${each__fork.output.result.inputs}"
    refs = [t["taskReferenceName"] for t in workflow["tasks"]]
    assert workflow["tasks"][refs.index("each") + 1]["type"] == "JOIN"
    prep = _task(workflow, "each__fork")
    assert prep["inputParameters"]["items"] == "${split.output.items}"
    context = prep["inputParameters"]["ctx"]
    assert sorted(context.values()) == ["${split.output.count}", "${workflow.input.scale}"]
    # what Conductor hands the JQ task once the expressions are resolved
    resolved = {key: {"${workflow.input.scale}": 7, "${split.output.count}": 2}[value]
                for key, value in context.items()}
    result = _jq(prep, items=[{"name": "a"}, {"name": "b"}], ctx=resolved)
    assert result["tasks"] == [
        {"name": "pesto_square", "taskReferenceName": f"each__{i}", "type": "SIMPLE"}
        for i in range(2)]
    assert result["inputs"]["each__1"] == {"x": {"name": "b"}, "scale": [1, 7, {"deep": 2}],
                                           "label": "b"}
    assert _jq(prep, items=[], ctx=resolved) == {"tasks": [], "inputs": {}}


def test_fan_in_orders_the_join_output_by_item_index(workflow):
    join = {f"each__{i}": {"y": i * i} for i in (10, 2, 0, 1)}  # JOIN output, any order
    assert _jq(_task(workflow, "each__collect_y"), join=join) == [0, 1, 4, 100]
    assert _jq(_task(workflow, "each__collect_0"), join=join) == {"y": 0}
    assert _task(workflow, "each__collect_y")["inputParameters"]["join"] == \
        "${each__join.output}"


def test_generated_json_deserialises_through_the_sdk_models(workflow):
    client = ApiClient()
    model = client._ApiClient__deserialize(workflow, "WorkflowDef")
    back = client.sanitize_for_serialization(model)
    assert {key: back[key] for key in workflow} == workflow  # no field the SDK does not know
    task = generate_task_def(DESCRIBES["sum"])
    back = client.sanitize_for_serialization(client._ApiClient__deserialize(task, "TaskDef"))
    assert {key: back[key] for key in task} == task


def test_a_service_without_describe_is_named():
    pipeline = parse_pipeline(SPEC.replace("split_x", "first"))
    with pytest.raises(GenerationError, match="no describe document for service.*sum"):
        generate_workflow(pipeline, {k: v for k, v in DESCRIBES.items() if k != "sum"})



def test_queries_hold_no_conductor_expression(workflow):
    for task in workflow["tasks"]:
        if task["type"] == "JSON_JQ_TRANSFORM":  # Conductor would substitute `${...}` in them
            assert "${" not in task["inputParameters"]["queryExpression"]


def test_a_step_id_clashing_with_generated_names_is_refused():
    pipeline = parse_pipeline(SPEC.replace("split_x", "sp__lit"))
    with pytest.raises(GenerationError, match="step id 'sp__lit' contains '__'"):
        generate_workflow(pipeline, DESCRIBES)
