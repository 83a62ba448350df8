"""The test server keeps Conductor's rules the generated JSON must meet (see server.py)."""

from __future__ import annotations

import httpx

from tests.conftest import wait_until


def _post(conductor, path: str, body, **params) -> httpx.Response:
    return httpx.post(f"{conductor.url}{path}", json=body, params=params, timeout=10)


def test_task_defs_get_conductors_defaults_and_bad_timeouts_are_refused(conductor):
    assert _post(conductor, "/metadata/taskdefs", [{"name": "a"}]).status_code == 200
    task_def = httpx.get(f"{conductor.url}/metadata/taskdefs/a").json()
    assert (task_def["retryCount"], task_def["retryDelaySeconds"],
            task_def["responseTimeoutSeconds"]) == (3, 60, 3600)
    bad = _post(conductor, "/metadata/taskdefs",
                [{"name": "b", "timeoutSeconds": 10, "responseTimeoutSeconds": 20}])
    assert bad.status_code == 400 and "responseTimeoutSeconds" in bad.text


def test_workflow_rules_and_the_empty_join_bug_class(conductor):
    _post(conductor, "/metadata/taskdefs", [{"name": "a"}])
    fork = {"name": "f", "taskReferenceName": "f", "type": "FORK_JOIN_DYNAMIC",
            "inputParameters": {"t": [], "i": {}}, "dynamicForkTasksParam": "t",
            "dynamicForkTasksInputParamName": "i"}
    simple = {"name": "a", "taskReferenceName": "s", "type": "SIMPLE",
              "inputParameters": {"x": "${workflow.input.x}"}}
    refused = _post(conductor, "/metadata/workflow", {"name": "w", "tasks": [fork, simple]})
    assert refused.status_code == 400 and "followed by a JOIN" in refused.text
    missing = _post(conductor, "/metadata/workflow", {"name": "w", "tasks": [
        {**simple, "name": "nope"}]})
    assert missing.status_code == 400 and "nope" in missing.text
    # a static JOIN with an empty joinOn and no fork completes at once: the next task starts
    join = {"name": "join", "taskReferenceName": "j", "type": "JOIN", "joinOn": []}
    workflow = {"name": "w", "version": 1, "tasks": [join, simple]}
    assert _post(conductor, "/metadata/workflow", workflow, overwrite=True).status_code == 200
    assert _post(conductor, "/metadata/workflow", workflow).status_code == 409
    started = _post(conductor, "/workflow", {"name": "w", "input": {"x": [1]}})
    run = httpx.get(f"{conductor.url}/workflow/{started.text}").json()
    assert [t["status"] for t in run["tasks"]] == ["COMPLETED", "SCHEDULED"]
    assert run["tasks"][1]["inputData"]["x"] == [1]


def test_callback_after_seconds_requeues_the_task(conductor):
    _post(conductor, "/metadata/taskdefs", [{"name": "a", "retryCount": 0}])
    _post(conductor, "/metadata/workflow", {"name": "w", "tasks": [
        {"name": "a", "taskReferenceName": "s", "type": "SIMPLE"}]}, overwrite=True)
    workflow_id = _post(conductor, "/workflow", {"name": "w"}).text
    poll = f"{conductor.url}/tasks/poll/batch/a"
    task = httpx.get(poll, params={"count": 1, "timeout": 100}).json()[0]
    update = {"taskId": task["taskId"], "workflowInstanceId": workflow_id,
              "status": "IN_PROGRESS", "callbackAfterSeconds": 1}
    assert _post(conductor, "/tasks/update-v2", update).status_code == 204
    assert httpx.get(poll, params={"count": 1, "timeout": 0}).json() == []
    again = wait_until(lambda: httpx.get(poll, params={"count": 1, "timeout": 100}).json(),
                       timeout=10, what="the task back in the queue")
    assert again[0]["taskId"] == task["taskId"] and again[0]["pollCount"] == 2
    done = {**update, "status": "COMPLETED", "outputData": {"y": 1}}
    assert _post(conductor, "/tasks", done).text == task["taskId"]
    assert httpx.get(f"{conductor.url}/workflow/{workflow_id}").json()["status"] == "COMPLETED"
