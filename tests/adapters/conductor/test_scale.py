"""10,000 items through the SDK workers and the test server held to the real payload limits
(3 MB to external storage, 10 MB refused: ConductorProperties, ExternalPayloadStorageUtils):
the batched fan-out merges every item once, in order, with no payload over the threshold; the
unbatched form the generator wrote before (one forked task per item, its input inline) fails
as a real server fails it."""

from __future__ import annotations

import pytest
from pesto_factory.adapters.conductor import (
    TaskSettings,
    generate_task_defs,
    generate_workflow,
    task_name,
)
from pesto_factory.adapters.conductor.worker import register_definitions
from pesto_factory.adapters.pipeline import load_pipeline

from tests.adapters.conductor.conftest import running_workers
from tests.adapters.conftest import SQUARES

pytestmark = pytest.mark.slow

COUNT = 10_000
THRESHOLD = 3072 * 1024


@pytest.fixture
def squares_10k(conductor, describes):
    pipeline = load_pipeline(SQUARES, describes=describes)
    settings = TaskSettings(retry_count=0)
    register_definitions(conductor.configuration(), generate_task_defs(describes,
                                                                       settings=settings),
                         generate_workflow(pipeline, describes, settings=settings))
    return pipeline, settings


def test_ten_thousand_items_merge_once_in_order_below_the_threshold(
        conductor, squares_10k, squares_services, describes, tmp_path):
    urls = {task_name(describes[name]): url for name, url in squares_services.items()}
    with running_workers(conductor, urls, thread_count=4,
                         manifests=(tmp_path / "manifests").as_uri()):
        workflow = conductor.wait(conductor.start("squares", {"count": COUNT}), timeout=600)
    assert workflow["status"] == "COMPLETED", workflow["reasonForIncompletion"]
    assert workflow["output"]["indexes"] == list(range(COUNT))  # every item once, in order
    assert workflow["output"]["total"] == sum((i + 1) ** 2 for i in range(COUNT))
    forks = [t for t in workflow["tasks"] if t["referenceTaskName"].startswith("squares__")
             and t["referenceTaskName"][-1].isdigit()]
    assert len(forks) == COUNT // 100
    record = conductor.state.payloads
    assert not record.externalized and not record.refused
    assert record.largest < THRESHOLD / 4, (record.largest, record.largest_at)


def _unbatched(workflow: dict) -> dict:
    """The fan-out as generated before batching: one forked task per item, its input inline
    (a JQ task builds every forked task and its input)."""
    query = ('.ctx as $ctx | [.items | to_entries | .[] | {ref: ("squares__" + (.key | '
             'tostring)), input: {item: .value, latch_dir: $ctx.l, fail_index: $ctx.f, hold: '
             '$ctx.h}}] | {tasks: map({name: "pesto_tests_square", taskReferenceName: .ref, '
             'type: "SIMPLE"}), inputs: (map({key: .ref, value: .input}) | from_entries)}')
    tasks = []
    for task in workflow["tasks"]:
        if task["taskReferenceName"] == "squares__fork":
            task = {**task, "inputParameters": {
                "items": "${split.output.items}", "queryExpression": query,
                "ctx": {"l": "${workflow.input.latch_dir}", "f": "${workflow.input.fail_index}",
                        "h": "${workflow.input.hold}"}}}
        tasks.append(task)
    return {**workflow, "name": "unbatched", "tasks": tasks}


def test_the_unbatched_form_fails_as_a_real_server_fails_it(conductor, squares_10k,
                                                            squares_services, describes):
    pipeline, settings = squares_10k
    workflow = generate_workflow(pipeline, describes, settings=settings,
                                 options={"fan_in": "inline"})
    register_definitions(conductor.configuration(), [], _unbatched(workflow))
    urls = {task_name(describes[name]): url for name, url in squares_services.items()}
    with running_workers(conductor, urls):
        run = conductor.wait(conductor.start("unbatched", {"count": COUNT}), timeout=120)
    assert run["status"] == "FAILED"
    assert "greater than the permissible limit" in run["reasonForIncompletion"]
    fork = next(t for t in run["tasks"] if t["referenceTaskName"] == "squares")
    assert (fork["taskType"], fork["status"]) == ("FORK", "FAILED_WITH_TERMINAL_ERROR")
    assert not [t for t in run["tasks"] if t["taskType"] == "pesto_tests_square"]
    assert conductor.state.payloads.externalized  # the JQ task's output already went over 3 MB
