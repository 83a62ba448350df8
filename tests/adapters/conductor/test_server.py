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


def _one_task_workflow(conductor, task_def: dict, **workflow) -> str:
    _post(conductor, "/metadata/taskdefs", [{"name": "a", "retryCount": 0, **task_def}])
    _post(conductor, "/metadata/workflow", {"name": "w", "tasks": [
        {"name": "a", "taskReferenceName": "s", "type": "SIMPLE"}], **workflow}, overwrite=True)
    return _post(conductor, "/workflow", {"name": "w"}).text


def _poll(conductor, timeout: int = 100) -> list:
    return httpx.get(f"{conductor.url}/tasks/poll/batch/a",
                     params={"count": 1, "timeout": timeout}).json()


def test_in_progress_goes_back_to_scheduled_postponed_with_its_output_replaced(conductor):
    # WorkflowExecutorOps.updateTask
    workflow_id = _one_task_workflow(conductor, {})
    task = _poll(conductor)[0]
    update = {"taskId": task["taskId"], "workflowInstanceId": workflow_id,
              "status": "IN_PROGRESS", "callbackAfterSeconds": 1, "outputData": {"job": 1}}
    assert _post(conductor, "/tasks/update-v2", update).status_code == 204
    stored = httpx.get(f"{conductor.url}/tasks/{task['taskId']}").json()
    assert (stored["status"], stored["outputData"]) == ("SCHEDULED", {"job": 1})
    assert _poll(conductor, timeout=0) == []
    again = wait_until(lambda: _poll(conductor), timeout=10, what="the task back in the queue")
    assert again[0]["taskId"] == task["taskId"] and again[0]["pollCount"] == 2
    assert again[0]["outputData"] == {"job": 1}  # the next poll finds the job id
    done = {**update, "status": "COMPLETED", "outputData": {"y": 1}}
    assert _post(conductor, "/tasks", done).text == task["taskId"]
    run = httpx.get(f"{conductor.url}/workflow/{workflow_id}").json()
    assert run["status"] == "COMPLETED" and run["tasks"][0]["outputData"] == {"y": 1}


def test_update_v2_answers_the_next_task(conductor):
    # TaskResource.updateTaskV2: the updated task ended, so the worker gets the next one
    first = _one_task_workflow(conductor, {})
    second = _post(conductor, "/workflow", {"name": "w"}).text
    task = _poll(conductor)[0]
    answer = _post(conductor, "/tasks/update-v2", {"taskId": task["taskId"],
                                                    "workflowInstanceId": first,
                                                    "status": "COMPLETED", "workerId": "w1"})
    assert answer.status_code == 200
    assert answer.json()["workflowInstanceId"] == second
    assert answer.json()["status"] == "IN_PROGRESS"


def test_task_and_workflow_timeouts_time_the_workflow_out(conductor):
    # DeciderService.checkTaskTimeout (TIME_OUT_WF) and checkWorkflowTimeout
    workflow_id = _one_task_workflow(conductor, {"timeoutSeconds": 1,
                                                 "responseTimeoutSeconds": 1})
    _poll(conductor)
    run = conductor.wait(workflow_id, timeout=20)
    assert run["status"] == "TIMED_OUT" and run["tasks"][0]["status"] == "TIMED_OUT"
    conductor.state.task_defs.clear()
    workflow_id = _one_task_workflow(conductor, {}, timeoutSeconds=1)
    run = conductor.wait(workflow_id, timeout=20)  # never polled: the workflow times out
    assert run["status"] == "TIMED_OUT" and "Workflow timed out" in run["reasonForIncompletion"]


def test_jq_errors_fail_with_output_error_and_joins_skip_empty_outputs(conductor):
    # JsonJqTransform: FAILED with output.error; Join.java: forks with an empty output left out
    bad = {"name": "json_jq_transform", "taskReferenceName": "q", "type": "JSON_JQ_TRANSFORM",
           "inputParameters": {"queryExpression": ".a | tonumber", "a": "x"}}
    _post(conductor, "/metadata/workflow", {"name": "jq", "tasks": [bad]})
    run = conductor.wait(_post(conductor, "/workflow", {"name": "jq"}).text)
    task = run["tasks"][0]
    assert (run["status"], task["status"]) == ("FAILED", "FAILED")
    assert task["outputData"]["error"] and task["retryCount"] == 0
    _post(conductor, "/metadata/taskdefs", [{"name": "a", "retryCount": 0}])
    fork = {"name": "f", "taskReferenceName": "f", "type": "FORK_JOIN_DYNAMIC",
            "inputParameters": {"t": [{"name": "a", "taskReferenceName": f"f{i}"}
                                      for i in range(3)],
                                "i": {f"f{i}": {"n": "${workflow.input.n}"} for i in range(3)}},
            "dynamicForkTasksParam": "t", "dynamicForkTasksInputParamName": "i"}
    join = {"name": "join", "taskReferenceName": "j", "type": "JOIN", "joinOn": []}
    _post(conductor, "/metadata/workflow", {"name": "fj", "tasks": [fork, join]})
    workflow_id = _post(conductor, "/workflow", {"name": "fj", "input": {"n": 5}}).text
    for index in range(3):
        task = _poll(conductor)[0]
        assert task["inputData"] == {"n": 5}  # the fork's input resolved when scheduled
        _post(conductor, "/tasks", {"taskId": task["taskId"], "workflowInstanceId": workflow_id,
                                    "status": "COMPLETED",
                                    "outputData": {} if index == 1 else {"i": index}})
    run = conductor.wait(workflow_id)
    assert run["tasks"][-1]["outputData"] == {"f0": {"i": 0}, "f2": {"i": 2}}
    recorded = run["tasks"][0]
    assert recorded["taskType"] == "FORK" and recorded["inputData"]["forkedTasks"] == [
        "f0", "f1", "f2"]
    assert recorded["inputData"]["forkedTaskDefs"][1]["taskDefinition"]["name"] == "a"


def test_payloads_above_the_threshold_are_externalized_and_refused_past_the_maximum():
    # ConductorProperties, ExternalPayloadStorageUtils: settable limits
    from tests.adapters.conductor.conftest import serving
    from tests.adapters.conductor.server import ConductorState, PayloadLimits

    with serving(ConductorState(limits=PayloadLimits(threshold_kb=1, max_kb=4))) as conductor:
        workflow_id = _one_task_workflow(conductor, {})
        task = _poll(conductor)[0]
        _post(conductor, "/tasks", {"taskId": task["taskId"], "workflowInstanceId": workflow_id,
                                    "status": "COMPLETED", "outputData": {"x": "y" * 2000}})
        run = conductor.wait(workflow_id)
        assert run["status"] == "COMPLETED"
        assert run["tasks"][0]["outputData"] == {}  # what an SDK 2.0 client sees
        assert run["tasks"][0]["externalOutputPayloadStoragePath"]
        workflow_id = _post(conductor, "/workflow", {"name": "w"}).text
        task = _poll(conductor)[0]
        _post(conductor, "/tasks", {"taskId": task["taskId"], "workflowInstanceId": workflow_id,
                                    "status": "COMPLETED", "outputData": {"x": "y" * 5000}})
        run = conductor.wait(workflow_id)
        assert run["status"] == "FAILED" and run["tasks"][0]["status"] == \
            "FAILED_WITH_TERMINAL_ERROR"
        assert "greater than the permissible limit: 4096 bytes" in run["reasonForIncompletion"]
