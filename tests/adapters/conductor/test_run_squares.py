"""The squares test chain through the SDK workers and the test Conductor server: fan-out items
finish in reverse order yet fan in in item order (inline and by manifest), the JOIN holds the
sum until every batch is done, a failing item fails the workflow."""

from __future__ import annotations

import pytest
from pesto_factory.adapters.conductor import (
    TaskSettings,
    generate_task_defs,
    generate_workflows,
    task_name,
)
from pesto_factory.adapters.conductor.register import register
from pesto_factory.adapters.conductor.worker import register_definitions
from pesto_factory.adapters.pipeline import load_pipeline

from tests.adapters.conductor.conftest import running_workers
from tests.adapters.conftest import SQUARES

pytestmark = pytest.mark.slow

FAST = TaskSettings(retry_count=1, retry_delay_seconds=0)


@pytest.fixture
def squares(conductor, squares_services, describes, tmp_path):
    pipeline = load_pipeline(SQUARES, describes=describes)
    register_definitions(conductor.configuration(), generate_task_defs(describes, settings=FAST))
    for name, options in (("inline", {"batch_size": 2, "fan_in": "inline"}),
                          ("manifest", {"batch_size": 2}),
                          ("chunks", {"batch_size": 1, "sub_workflow_forks": 2})):
        *chunk, workflow = generate_workflows(pipeline, describes, settings=FAST,
                                              options=options)
        register(conductor.configuration(), [], [*chunk, {**workflow, "name": name}])
    urls = {task_name(describes[name]): url for name, url in squares_services.items()}
    with running_workers(conductor, urls, thread_count=3,
                         manifests=(tmp_path / "manifests").as_uri()):
        yield conductor


def _tasks(workflow: dict, prefix: str) -> list[dict]:
    return [t for t in workflow["tasks"] if t["referenceTaskName"].startswith(prefix)]


@pytest.mark.parametrize("fan_in", ["inline", "manifest", "chunks"])
def test_items_fan_in_in_item_order_and_the_join_waits_for_every_fork(squares, tmp_path,
                                                                       fan_in):
    latch = tmp_path / "latch"
    latch.mkdir()
    workflow = squares.wait(squares.start(fan_in, {"count": 3, "latch_dir": str(latch)}))
    assert workflow["status"] == "COMPLETED", workflow["reasonForIncompletion"]
    output = workflow["output"]
    assert output["total"] == 1 + 4 + 9 and output["indexes"] == [0, 1, 2]
    if fan_in == "inline":
        finished = output["finished"]
        assert finished == sorted(finished, reverse=True)  # item 2 ended first, listed last
    else:  # a run's output of a fan-out is its manifests (docs/conductor.md)
        batches = 3 if fan_in == "chunks" else 2
        assert len(output["finished"]["__pesto_manifests"]) == batches
    forks = [t for t in _tasks(workflow, "squares__") if t["referenceTaskName"][-1].isdigit()]
    assert sorted(t["referenceTaskName"] for t in forks) == ["squares__0", "squares__1"]
    if fan_in == "chunks":  # two sub-workflows of 2 and 1 items, batches of 1 in each
        assert [f["taskType"] for f in forks] == ["SUB_WORKFLOW"] * 2
        children = [squares.workflow(f["subWorkflowId"]) for f in forks]
        assert [len([t for t in _tasks(c, "squares__") if t["referenceTaskName"][-1].isdigit()])
                for c in children] == [2, 1]
        assert children[1]["tasks"][2]["inputData"]["__pesto_batch"]["offset"] == 2
        return
    fork = next(t for t in workflow["tasks"] if t["referenceTaskName"] == "squares")
    assert fork["taskType"] == "FORK" and fork["inputData"]["forkedTasks"] == [
        "squares__0", "squares__1"]
    assert fork["inputData"]["forkedTaskDefs"][0]["taskDefinition"]["name"] == "pesto_tests_square"
    # the fork's input is a slice of the list, resolved when Conductor scheduled it
    assert [item["index"] for item in forks[1]["inputData"]["__pesto_batch"]["items"]] == [2]
    join = _tasks(workflow, "squares__join")[0]
    assert sorted(join["inputData"]["joinOn"]) == [t["referenceTaskName"] for t in forks]
    total = _tasks(workflow, "total")[0]
    assert total["scheduledTime"] >= max(t["endTime"] for t in forks) > 0
    assert join["endTime"] >= max(t["endTime"] for t in forks)


def test_a_failing_item_fails_the_workflow_and_the_sum_never_runs(squares):
    workflow = squares.wait(squares.start("manifest", {"count": 3, "fail_index": 1}))
    assert workflow["status"] == "FAILED"
    assert "squares__0" in workflow["reasonForIncompletion"]
    assert "item 1" in workflow["reasonForIncompletion"]
    assert "unlucky" in workflow["reasonForIncompletion"]
    assert not _tasks(workflow, "total")
    # the algorithm's error is a 500 from the service: retryable, so retried retryCount times
    attempts = [(t["status"], t["retryCount"]) for t in _tasks(workflow, "squares__0")]
    assert attempts == [("FAILED", 0), ("FAILED", 1)], attempts


def test_bad_input_fails_for_good_without_retries(squares):
    workflow = squares.wait(squares.start("manifest", {"count": "three"}))
    assert workflow["status"] == "FAILED"
    attempts = [(t["status"], t["retryCount"]) for t in _tasks(workflow, "split")]
    assert attempts == [("FAILED_WITH_TERMINAL_ERROR", 0)]  # a 400: never retried
    assert "count" in workflow["reasonForIncompletion"]
    # the service saw the workflow id as X-Correlation-ID and answered it in its error
    assert f"[correlation id {workflow['workflowId']}]" in workflow["reasonForIncompletion"]
