"""A small Conductor-compatible server for the tests: the REST contract the SDK workers and the
generated JSON meet, kept faithful to Conductor OSS (github.com/conductor-oss/conductor):

- metadata (MetadataResource, MetadataServiceImpl): `POST /api/metadata/taskdefs` (a list,
  create or replace) and `PUT` (one); TaskDef defaults retryCount 3, retryLogic FIXED,
  retryDelaySeconds 60, timeoutPolicy TIME_OUT_WF, responseTimeoutSeconds 3600, refused (400)
  unless 1 <= responseTimeoutSeconds <= timeoutSeconds (when > 0); `POST /api/metadata/workflow
  ?overwrite=` (409 on an existing version without overwrite) refusing SIMPLE tasks without a
  TaskDef and a FORK_JOIN_DYNAMIC not followed by a JOIN (WorkflowTaskTypeConstraint);
- `POST /api/workflow` (StartWorkflowRequest -> text/plain id; the WorkflowDef's inputTemplate
  fills missing inputs), `GET /api/workflow/{id}?includeTasks=`, `GET /api/workflow/{id}/status`;
- tasks (TaskResource, ExecutionService): `GET /api/tasks/poll/batch/{type}` (long poll up to
  `timeout` ms) and `/api/tasks/poll/{type}` (204 when none), `POST /api/tasks/update-v2`
  (204: no next task) and `POST /api/tasks` (text/plain task id);
- the decider (WorkflowExecutor, DeciderService): the workflow's tasks run one after the other;
  SIMPLE input = resolved inputParameters over the TaskDef's inputTemplate; FAILED and TIMED_OUT
  tasks are retried as new tasks (retryCount + 1) after retryDelaySeconds while retryCount
  allows, then fail the workflow, as FAILED_WITH_TERMINAL_ERROR does at once; IN_PROGRESS with
  callbackAfterSeconds re-queues the task after the delay; an IN_PROGRESS task not updated within
  responseTimeoutSeconds is TIMED_OUT (and retried);
- JSON_JQ_TRANSFORM (JsonJqTransform): `queryExpression` over the resolved input, output
  `{result: first, resultList: all}` (libjq here, jackson-jq there);
- FORK_JOIN_DYNAMIC (ForkJoinDynamicTaskMapper), classic form: `dynamicForkTasksParam` names the
  input holding the WorkflowTask list, `dynamicForkTasksInputParamName` the input map by
  reference name; the JOIN after it gets `joinOn` = the forked references at run time and
  completes when they all did, with output `{ref: outputData}`; an empty joinOn completes at once;
- expressions (ParametersUtils): a string that is one `${...}` becomes the value (any JSON type),
  others are templated; `workflow.input.x`, `workflow.workflowId`, `REF.output.a.b[0]`,
  `REF.input.x`; a missing value is null.

Only what the generator emits is evaluated (no INLINE, DECISION, SUB_WORKFLOW, domains...).
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import uuid
from typing import Any

import jq
from fastapi import Body, FastAPI, HTTPException, Query, Response
from fastapi.responses import JSONResponse, PlainTextResponse

__all__ = ["ConductorState", "create_app"]

TASK_DEF_DEFAULTS = {"retryCount": 3, "retryLogic": "FIXED", "retryDelaySeconds": 60,
                     "timeoutPolicy": "TIME_OUT_WF", "timeoutSeconds": 0,
                     "responseTimeoutSeconds": 3600, "inputTemplate": {}}
_EXPRESSION = re.compile(r"\$\{([^}]+)\}")
_RETRIED = ("FAILED", "TIMED_OUT")


def _now() -> int:
    return int(time.time() * 1000)


def _read(value: Any, path: str) -> Any:
    """A JsonPath-like read: `a.b[0].c`; None when something is missing."""
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        if index:
            value = value[int(index)] if isinstance(value, list) and int(index) < len(
                value) else None
        else:
            value = value.get(name) if isinstance(value, dict) else None
    return value


class ConductorState:
    """Definitions, workflows and tasks, behind one lock; `changed` wakes long polls."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.task_defs: dict[str, dict] = {}
        self.workflow_defs: dict[tuple[str, int], dict] = {}
        self.workflows: dict[str, dict] = {}
        self.tasks: dict[str, dict] = {}

    # --- metadata ---------------------------------------------------------------------------
    def put_task_def(self, task_def: dict) -> None:
        task_def = {**TASK_DEF_DEFAULTS, **task_def}
        name = task_def.get("name")
        timeout, response = task_def["timeoutSeconds"], task_def["responseTimeoutSeconds"]
        if not name:
            raise HTTPException(400, "taskDef name cannot be empty")
        if response < 1 or (timeout > 0 and response > timeout):
            raise HTTPException(400, f"TaskDef: {name} responseTimeoutSeconds: {response} "
                                     f"must be >= 1 and <= timeoutSeconds: {timeout}")
        self.task_defs[name] = task_def

    def put_workflow_def(self, workflow: dict, *, overwrite: bool) -> None:
        key = (workflow.get("name"), int(workflow.get("version") or 1))
        if key in self.workflow_defs and not overwrite:
            raise HTTPException(409, f"Workflow {key[0]}.{key[1]} already exists!")
        tasks = workflow.get("tasks") or []
        if not tasks:
            raise HTTPException(400, "WorkflowDef: tasks cannot be empty")
        for position, task in enumerate(tasks):
            if task["type"] == "SIMPLE" and task["name"] not in self.task_defs:
                raise HTTPException(400, f"Missing task definitions: {task['name']}")
            if task["type"] == "FORK_JOIN_DYNAMIC" and (
                    position + 1 >= len(tasks) or tasks[position + 1]["type"] != "JOIN"):
                raise HTTPException(400, f"FORK_JOIN_DYNAMIC {task['taskReferenceName']} "
                                         "must be followed by a JOIN task")
        self.workflow_defs[key] = copy.deepcopy(workflow)

    # --- execution ----------------------------------------------------------------------------
    def start(self, request: dict) -> str:
        name, version = request.get("name"), request.get("version")
        versions = [v for (n, v) in self.workflow_defs if n == name]
        if not versions or (version and (name, int(version)) not in self.workflow_defs):
            raise HTTPException(404, f"No such workflow defined. name={name}, version={version}")
        definition = self.workflow_defs[(name, int(version or max(versions)))]
        workflow_id = str(uuid.uuid4())
        self.workflows[workflow_id] = {
            "workflowId": workflow_id, "workflowName": name,
            "workflowVersion": definition.get("version", 1), "status": "RUNNING",
            "input": {**(definition.get("inputTemplate") or {}), **(request.get("input") or {})},
            "output": {}, "createTime": _now(), "endTime": 0, "reasonForIncompletion": None,
            "tasks": [], "_def": definition, "_next": 0}
        self.decide(workflow_id)
        return workflow_id

    def resolve(self, value: Any, workflow: dict) -> Any:
        if isinstance(value, dict):
            return {key: self.resolve(sub, workflow) for key, sub in value.items()}
        if isinstance(value, list):
            return [self.resolve(sub, workflow) for sub in value]
        if not isinstance(value, str) or "${" not in value:
            return value
        whole = _EXPRESSION.fullmatch(value)
        if whole:
            return self._lookup(whole.group(1).strip(), workflow)
        return _EXPRESSION.sub(lambda m: str(self._lookup(m.group(1).strip(), workflow)), value)

    def _lookup(self, expression: str, workflow: dict) -> Any:
        head, _, rest = expression.partition(".")
        if head == "workflow":
            if rest == "workflowId":
                return workflow["workflowId"]
            field, _, path = rest.partition(".")
            return _read(workflow.get(field), path) if path else workflow.get(field)
        task = self._latest(workflow, head)
        if task is None:
            return None
        field, _, path = rest.partition(".")
        data = task.get({"output": "outputData", "input": "inputData"}.get(field, field))
        return _read(data, path) if path else data

    def _latest(self, workflow: dict, ref: str) -> dict | None:
        found = [task for task in workflow["tasks"] if task["referenceTaskName"] == ref]
        return found[-1] if found else None

    def _new_task(self, workflow: dict, spec: dict, inputs: dict, *, status: str = "SCHEDULED",
                  retry_count: int = 0, delay: float = 0) -> dict:
        task_def = self.task_defs.get(spec["name"], TASK_DEF_DEFAULTS)
        task = {"taskId": str(uuid.uuid4()), "taskType": spec["type"] if spec["type"] != "SIMPLE"
                else spec["name"], "taskDefName": spec["name"],
                "referenceTaskName": spec["taskReferenceName"], "status": status,
                "inputData": inputs, "outputData": {}, "workflowInstanceId": workflow["workflowId"],
                "workflowType": workflow["workflowName"], "retryCount": retry_count,
                "seq": len(workflow["tasks"]) + 1, "pollCount": 0, "callbackAfterSeconds": 0,
                "scheduledTime": _now(), "startTime": 0, "endTime": 0, "updateTime": _now(),
                "reasonForIncompletion": None, "workerId": None, "retried": False,
                "responseTimeoutSeconds": task_def["responseTimeoutSeconds"],
                "workflowTask": spec, "_ready": time.time() + delay, "_deadline": None}
        workflow["tasks"].append(task)
        self.tasks[task["taskId"]] = task
        return task

    def _schedule_simple(self, workflow: dict, spec: dict, inputs: dict) -> dict:
        template = self.task_defs[spec["name"]].get("inputTemplate") or {}
        return self._new_task(workflow, spec, {**template, **inputs})

    def _finish_workflow(self, workflow: dict, status: str, reason: str | None = None) -> None:
        workflow.update(status=status, endTime=_now(), reasonForIncompletion=reason)
        if status == "COMPLETED":
            workflow["output"] = self.resolve(workflow["_def"].get("outputParameters") or {},
                                              workflow)
        for task in workflow["tasks"]:
            if task["status"] in ("SCHEDULED", "IN_PROGRESS"):
                task.update(status="CANCELED", endTime=_now())
        self.changed.notify_all()

    def _handle_failures(self, workflow: dict) -> bool:
        """Retry failed SIMPLE tasks, or fail the workflow; False when it failed."""
        for task in list(workflow["tasks"]):
            if task["retried"] or task["status"] not in (*_RETRIED, "FAILED_WITH_TERMINAL_ERROR"):
                continue
            task_def = self.task_defs.get(task["taskDefName"], TASK_DEF_DEFAULTS)
            if task["status"] in _RETRIED and task["retryCount"] < task_def["retryCount"]:
                task["retried"] = True
                self._new_task(workflow, task["workflowTask"], task["inputData"],
                               retry_count=task["retryCount"] + 1,
                               delay=task_def["retryDelaySeconds"])
                continue
            self._finish_workflow(workflow, "FAILED", f"Task {task['taskId']} "
                                  f"({task['referenceTaskName']}) {task['status']}: "
                                  f"{task['reasonForIncompletion']}")
            return False
        return True

    def decide(self, workflow_id: str) -> None:
        workflow = self.workflows[workflow_id]
        while workflow["status"] == "RUNNING" and self._handle_failures(workflow):
            specs = workflow["_def"]["tasks"]
            if workflow["_next"] >= len(specs):
                self._finish_workflow(workflow, "COMPLETED")
                return
            spec = specs[workflow["_next"]]
            current = self._latest(workflow, spec["taskReferenceName"])
            if current is None:
                self._schedule(workflow, spec)
            elif current["status"] == "COMPLETED":
                workflow["_next"] += 1
            elif spec["type"] == "JOIN" and current["status"] == "IN_PROGRESS":
                if not self._check_join(workflow, current):
                    return
            else:
                return
        self.changed.notify_all()

    def _schedule(self, workflow: dict, spec: dict) -> None:
        inputs = self.resolve(spec.get("inputParameters") or {}, workflow)
        kind = spec["type"]
        if kind == "SIMPLE":
            self._schedule_simple(workflow, spec, inputs)
        elif kind == "JSON_JQ_TRANSFORM":
            task = self._new_task(workflow, spec, inputs, status="IN_PROGRESS")
            try:
                results = jq.compile(inputs["queryExpression"]).input_value(inputs).all()
                task.update(status="COMPLETED", outputData={
                    "result": results[0] if results else None, "resultList": results})
            except Exception as exc:  # noqa: BLE001 - jq errors fail the task, as in Conductor
                task.update(status="FAILED_WITH_TERMINAL_ERROR",
                            reasonForIncompletion=f"jq: {exc}")
            task["endTime"] = _now()
        elif kind == "FORK_JOIN_DYNAMIC":
            self._fork(workflow, spec, inputs)
        elif kind == "JOIN":  # a JOIN reached without its fork: nothing to wait for
            self._new_task(workflow, spec, {"joinOn": spec.get("joinOn") or []},
                           status="IN_PROGRESS")
        else:
            raise HTTPException(400, f"task type {kind} is not supported by the test server")

    def _fork(self, workflow: dict, spec: dict, inputs: dict) -> None:
        forks = inputs.get(spec["dynamicForkTasksParam"]) or []
        fork_inputs = inputs.get(spec["dynamicForkTasksInputParamName"]) or {}
        fork = self._new_task(workflow, spec, inputs, status="COMPLETED")
        fork["endTime"] = _now()
        for forked in forks:
            self._schedule_simple(workflow, {"type": "SIMPLE", **forked},
                                  fork_inputs.get(forked["taskReferenceName"]) or {})
        join = workflow["_def"]["tasks"][workflow["_next"] + 1]
        workflow["_next"] += 1
        self._new_task(workflow, join,
                       {"joinOn": [f["taskReferenceName"] for f in forks]}, status="IN_PROGRESS")

    def _check_join(self, workflow: dict, join: dict) -> bool:
        forked = [self._latest(workflow, ref) for ref in join["inputData"]["joinOn"]]
        if any(task["status"] != "COMPLETED" for task in forked):
            return False
        join.update(status="COMPLETED", endTime=_now(),
                    outputData={task["referenceTaskName"]: task["outputData"] for task in forked})
        return True

    def sweep(self) -> None:
        """Time out tasks whose worker stopped answering (responseTimeoutSeconds)."""
        now = time.time()
        for task in self.tasks.values():
            if task["status"] == "IN_PROGRESS" and task["_deadline"] and now > task["_deadline"]:
                task.update(status="TIMED_OUT", endTime=_now(),
                            reasonForIncompletion="responseTimeoutSeconds exceeded")
                self.decide(task["workflowInstanceId"])

    def poll(self, task_type: str, worker_id: str, count: int) -> list[dict]:
        self.sweep()
        now = time.time()
        found = []
        for task in self.tasks.values():
            if len(found) >= count:
                break
            waiting = task["status"] == "SCHEDULED" or (
                task["status"] == "IN_PROGRESS" and task["callbackAfterSeconds"])
            if task["taskType"] == task_type and waiting and task["_ready"] <= now:
                task.update(status="IN_PROGRESS", workerId=worker_id, callbackAfterSeconds=0,
                            startTime=task["startTime"] or _now(), updateTime=_now(),
                            pollCount=task["pollCount"] + 1,
                            _deadline=now + task["responseTimeoutSeconds"])
                found.append(task)
        return found

    def update(self, result: dict) -> None:
        task = self.tasks.get(result.get("taskId", ""))
        if task is None:
            raise HTTPException(404, f"No such task found by id: {result.get('taskId')}")
        if task["status"] not in ("IN_PROGRESS", "SCHEDULED"):
            return  # an update after the task ended (e.g. timed out) is ignored
        status = result.get("status")
        task.update(outputData={**task["outputData"], **(result.get("outputData") or {})},
                    reasonForIncompletion=result.get("reasonForIncompletion"),
                    updateTime=_now(), status=status)
        if status == "IN_PROGRESS":
            delay = float(result.get("callbackAfterSeconds") or 0)
            task.update(callbackAfterSeconds=delay, _ready=time.time() + delay,
                        _deadline=time.time() + delay + task["responseTimeoutSeconds"])
        else:
            task["endTime"] = _now()
        self.decide(task["workflowInstanceId"])


def _public(value: dict) -> dict:
    return {key: val for key, val in value.items() if not key.startswith("_")}


def create_app(state: ConductorState | None = None) -> FastAPI:
    """The FastAPI app under `/api`; `app.state.conductor` is the state (for test asserts)."""
    state = state or ConductorState()
    app = FastAPI()
    app.state.conductor = state

    @app.post("/api/metadata/taskdefs")
    def register_task_defs(task_defs: list[dict] = Body(...)) -> Response:
        with state.lock:
            for task_def in task_defs:
                state.put_task_def(task_def)
        return Response(status_code=200)

    @app.put("/api/metadata/taskdefs")
    def update_task_def(task_def: dict = Body(...)) -> Response:
        with state.lock:
            state.put_task_def(task_def)
        return Response(status_code=200)

    @app.get("/api/metadata/taskdefs/{name}")
    def get_task_def(name: str) -> dict:
        if name not in state.task_defs:
            raise HTTPException(404, f"No such taskType found by name: {name}")
        return state.task_defs[name]

    @app.post("/api/metadata/workflow")
    def register_workflow(workflow: dict = Body(...), overwrite: bool = Query(False)) -> Response:
        with state.lock:
            state.put_workflow_def(workflow, overwrite=overwrite)
        return Response(status_code=200)

    @app.post("/api/workflow")
    def start_workflow(request: dict = Body(...)) -> PlainTextResponse:
        with state.lock:
            return PlainTextResponse(state.start(request))

    @app.get("/api/workflow/{workflow_id}")
    def get_workflow(workflow_id: str, includeTasks: bool = True) -> dict:  # noqa: N803
        with state.lock:
            workflow = state.workflows.get(workflow_id)
            if workflow is None:
                raise HTTPException(404, f"No such workflow found by id: {workflow_id}")
            state.sweep()
            body = _public(workflow)
            body["tasks"] = [_public(t) for t in workflow["tasks"]] if includeTasks else []
            return json.loads(json.dumps(body))

    @app.get("/api/workflow/{workflow_id}/status")
    def workflow_status(workflow_id: str) -> dict:
        body = get_workflow(workflow_id, includeTasks=False)
        return {key: body[key] for key in ("workflowId", "status", "output")}

    def _poll(task_type: str, worker_id: str, count: int, timeout_ms: int) -> list[dict]:
        deadline = time.time() + min(timeout_ms, 5000) / 1000
        with state.lock:
            while True:
                found = state.poll(task_type, worker_id, count)
                if found or time.time() >= deadline:
                    return [json.loads(json.dumps(_public(t))) for t in found]
                state.changed.wait(max(0.0, min(deadline - time.time(), 0.05)))

    @app.get("/api/tasks/poll/batch/{task_type}")
    def batch_poll(task_type: str, workerid: str = "", count: int = 1,
                   timeout: int = 100) -> list[dict]:
        return _poll(task_type, workerid, count, timeout)

    @app.get("/api/tasks/poll/{task_type}")
    def poll(task_type: str, workerid: str = "") -> Response:
        found = _poll(task_type, workerid, 1, 0)
        return JSONResponse(found[0]) if found else Response(status_code=204)

    @app.post("/api/tasks/update-v2")
    def update_v2(result: dict = Body(...)) -> Response:
        with state.lock:
            state.update(result)
        return Response(status_code=204)

    @app.post("/api/tasks")
    def update(result: dict = Body(...)) -> PlainTextResponse:
        with state.lock:
            state.update(result)
        return PlainTextResponse(result["taskId"])

    return app
