"""Steps marked `http`: Conductor's HTTP system task calls the service's REST API itself, no
worker polls (the test server runs HttpTask's contract: 2xx COMPLETED with
output.response.body, else FAILED)."""

from __future__ import annotations

from pesto_factory.adapters.conductor import generate_task_defs, generate_workflow
from pesto_factory.adapters.conductor.worker import register_definitions
from pesto_factory.adapters.pipeline import parse_pipeline

SPEC = """
name: http-chain
inputs:
  count: {type: integer}
services:
  split: {project: "{services}/split"}
  square: {project: "{services}/square"}
steps:
  - id: split
    service: split
    inputs: {count: "${inputs.count}"}
  - id: sq
    service: square
    inputs: {item: "${split.items.1}"}
outputs:
  count: ${split.count}
  square: ${sq.square}
"""


def test_a_workflow_of_http_tasks_runs_without_workers(conductor, squares_services, describes,
                                                       write_spec):
    pipeline = parse_pipeline(write_spec(SPEC).read_text(), describes=describes)
    workflow = generate_workflow(pipeline, describes, options={"http": True})
    assert {task["type"] for task in workflow["tasks"]} == {"HTTP"}
    register_definitions(conductor.configuration(), generate_task_defs(describes), workflow)
    urls = {"pesto_url_split": squares_services["split"],
            "pesto_url_square": squares_services["square"]}
    run = conductor.wait(conductor.start("http-chain", {"count": 3, **urls}))
    assert run["status"] == "COMPLETED", run["reasonForIncompletion"]
    assert run["output"] == {"count": 3, "square": 4}
    bad = conductor.wait(conductor.start("http-chain", {"count": "three", **urls}))
    assert bad["status"] == "FAILED" and bad["tasks"][0]["outputData"]["response"][
        "statusCode"] == 400
