"""A small Conductor-compatible server for the tests: the REST contract the SDK workers and the
generated JSON meet, held to Conductor OSS's rules (github.com/conductor-oss/conductor v3.x,
read at commit b54f0d4; the file each rule follows is named where the rule is kept):

- metadata (MetadataResource, MetadataServiceImpl): `POST /api/metadata/taskdefs` (a list,
  create or replace), `PUT` (one; 404 when it does not exist), `GET .../taskdefs/{name}`;
  TaskDef defaults retryCount 3, retryLogic FIXED, retryDelaySeconds 60, timeoutPolicy
  TIME_OUT_WF, responseTimeoutSeconds 3600, refused (400) unless 1 <= responseTimeoutSeconds <=
  timeoutSeconds (when > 0); `POST /api/metadata/workflow?overwrite=` (409 on an existing
  version without overwrite; `overwrite` only since v3.31.2: `ConductorState(
  post_overwrite=False)` acts as an older server), `PUT /api/metadata/workflow` (a list, create
  or replace), `GET /api/metadata/workflow/{name}?version=` (latest by default); refusing SIMPLE
  tasks without a TaskDef and a FORK_JOIN_DYNAMIC not followed by a JOIN;
- `POST /api/workflow` (StartWorkflowRequest -> text/plain id; the WorkflowDef's inputTemplate
  fills missing inputs; taskToDomain), `GET /api/workflow/{id}?includeTasks=`, `.../status`,
  `DELETE /api/workflow/{id}` (terminate: TERMINATED, pending tasks CANCELED);
- tasks (TaskResource, ExecutionService): `GET /api/tasks/poll/batch/{type}?domain=` (long poll
  up to `timeout` ms), `/api/tasks/poll/{type}` (204 when none), `GET /api/tasks/{id}`;
  `POST /api/tasks/update-v2` answers the next task of that type for the worker when the
  updated one ended, else 204 (TaskResource.updateTaskV2); `POST /api/tasks` (text/plain id);
- updates (WorkflowExecutorOps.updateTask): the output is replaced by the update's; a worker
  task answered IN_PROGRESS goes back to SCHEDULED, postponed by callbackAfterSeconds;
  `extendLease` only moves updateTime; an update of an ended task is ignored;
- the decider (WorkflowExecutor, DeciderService): the workflow's tasks run one after the other;
  SIMPLE input = resolved inputParameters over the TaskDef's inputTemplate; FAILED and TIMED_OUT
  tasks are retried as new tasks (retryCount + 1) after retryDelaySeconds while the TaskDef's
  retryCount allows (a system task without a TaskDef: never), then fail the workflow, as
  FAILED_WITH_TERMINAL_ERROR does at once; an IN_PROGRESS task not updated within
  responseTimeoutSeconds (+ callbackAfterSeconds) is TIMED_OUT and retried (isResponseTimedOut);
  a task past its TaskDef's timeoutSeconds since it started is TIMED_OUT and, with timeoutPolicy
  TIME_OUT_WF, so is the workflow (checkTaskTimeout); a workflow past its timeoutSeconds since
  it was created is TIMED_OUT (checkWorkflowTimeout);
- payloads (ConductorProperties, ExternalPayloadStorageUtils.verifyAndUpload): a task input or
  output above `threshold_kb` (3072) is moved to external storage (the poll then hands the
  worker `{}` and `externalInputPayloadStoragePath`, as a conductor-python 2.0 worker sees it),
  above `max_kb` (10240) the task is FAILED_WITH_TERMINAL_ERROR with its payload emptied;
  sizes are those of the compact JSON; `state.payloads` records the largest seen;
- JSON_JQ_TRANSFORM (JsonJqTransform): `queryExpression` over the resolved input, output
  `{result: first, resultList: all}`; an error is FAILED with `output.error`;
- FORK_JOIN_DYNAMIC (ForkJoinDynamicTaskMapper), classic form: the task is recorded as a `FORK`
  whose input holds `forkedTasks` (reference names), `forkedTaskDefs` (each forked WorkflowTask,
  its input merged into inputParameters and its TaskDef embedded) and the resolved
  inputParameters; each forked task's inputParameters are resolved again when it is scheduled
  (DeciderService.getTasksToBeScheduled); the JOIN after it gets `joinOn` = the forked
  references and completes when they all ended, its output `{ref: outputData}` leaving out
  forks whose output is empty (Join.java); an empty joinOn completes at once;
- HTTP (HttpTask): `http_request` {uri, method, body, headers, readTimeOut}; a 2xx is
  COMPLETED with output `{response: {body, statusCode, headers}}`, else FAILED;
- expressions (ParametersUtils, Jayway JsonPath): a string that is one `${...}` becomes the
  value (any JSON type), others are templated; `workflow.input.x`, `workflow.workflowId`,
  `REF.output.a.b[0]`, `REF.input.x`, slices `[a:b]`; a missing value is null.

- SUB_WORKFLOW (SubWorkflowTaskMapper, SubWorkflow), as a forked task: the child workflow starts
  with the task's resolved inputs; the task ends as the child ends, output = the child's output
  and `subWorkflowId`; ending the parent terminates the child.

JSON_JQ_TRANSFORM runs libjq 1.7 (the `jq` package), not jackson-jq 0.0.13 (about jq 1.5): the
generator uses only builtins both implement; see docs/conductor.md for the gap.

Not evaluated: INLINE, DECISION, DO_WHILE, static SUB_WORKFLOW tasks, rate limits, workflow
payload limits.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import jq
from fastapi import Body, FastAPI, HTTPException, Query, Response
from fastapi.responses import JSONResponse, PlainTextResponse

__all__ = ["ConductorState", "PayloadLimits", "create_app"]

TASK_DEF_DEFAULTS = {"retryCount": 3, "retryLogic": "FIXED", "retryDelaySeconds": 60,
                     "timeoutPolicy": "TIME_OUT_WF", "timeoutSeconds": 0,
                     "responseTimeoutSeconds": 3600, "inputTemplate": {}}
NO_TASK_DEF = {**TASK_DEF_DEFAULTS, "retryCount": 0}  # DeciderService.retry: no TaskDef, no retry
# WorkflowTask fields Jackson writes for a forked task (common/metadata/workflow/WorkflowTask)
WORKFLOW_TASK_DEFAULTS = {"inputParameters": {}, "type": "SIMPLE", "startDelay": 0,
                          "optional": False, "asyncComplete": False, "permissive": False,
                          "defaultExclusiveJoinTask": [], "loopOver": [], "joinOn": [],
                          "defaultCase": [], "forkTasks": [], "decisionCases": {}}
_EXPRESSION = re.compile(r"\$\{([^}]+)\}")
_RETRIED = ("FAILED", "TIMED_OUT")
_TERMINAL = ("COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR", "TIMED_OUT", "CANCELED",
             "SKIPPED", "COMPLETED_WITH_ERRORS")
SYSTEM_TYPES = ("JSON_JQ_TRANSFORM", "FORK", "FORK_JOIN_DYNAMIC", "JOIN", "HTTP", "SUB_WORKFLOW")


def _now() -> int:
    return int(time.time() * 1000)


def _size(payload: Any) -> int:
    """Bytes of the compact JSON, as Jackson writes it."""
    return len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())


def _read(value: Any, path: str) -> Any:
    """A Jayway-JsonPath-like read: `a.b[0].c`, `a[2:5]`; None when something is missing."""
    for name, index, start, end in re.findall(r"([^.\[\]]+)|\[(\d+)\]|\[(\d*):(\d*)\]", path):
        if name:
            value = value.get(name) if isinstance(value, dict) else None
        elif index:
            value = value[int(index)] if isinstance(value, list) and int(index) < len(
                value) else None
        else:
            value = value[int(start or 0):int(end) if end else None] if isinstance(
                value, list) else None
    return value


@dataclass
class PayloadLimits:
    """ConductorProperties: task{Input,Output}PayloadSizeThreshold (3072 KB) and
    maxTask{Input,Output}PayloadSizeThreshold (10240 KB)."""

    threshold_kb: int = 3072
    max_kb: int = 10240


@dataclass
class PayloadRecord:
    """The largest task payload seen, and the tasks externalized or failed for their size."""

    largest: int = 0
    largest_at: str = ""
    externalized: list[tuple[str, str, int]] = field(default_factory=list)
    refused: list[tuple[str, str, int]] = field(default_factory=list)


class ConductorState:
    """Definitions, workflows and tasks, behind one lock; `changed` wakes long polls."""

    def __init__(self, *, limits: PayloadLimits | None = None,
                 post_overwrite: bool = True) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.task_defs: dict[str, dict] = {}
        self.workflow_defs: dict[tuple[str, int], dict] = {}
        self.workflows: dict[str, dict] = {}
        self.tasks: dict[str, dict] = {}
        self.limits = limits or PayloadLimits()
        self.payloads = PayloadRecord()
        self.external: dict[str, Any] = {}  # external payload storage: path -> payload
        self.post_overwrite = post_overwrite
        self.writes: list[tuple[str, str]] = []  # (method, what): metadata writes, for tests
        self._deciding: set[str] = set()  # workflows being decided (a child ends inside)

    # --- metadata ---------------------------------------------------------------------------
    def put_task_def(self, task_def: dict, *, update: bool = False) -> None:
        task_def = {**TASK_DEF_DEFAULTS, **task_def}
        name = task_def.get("name")
        timeout, response = task_def["timeoutSeconds"], task_def["responseTimeoutSeconds"]
        if not name:
            raise HTTPException(400, "taskDef name cannot be empty")
        if update and name not in self.task_defs:  # MetadataServiceImpl.updateTaskDef
            raise HTTPException(404, f"No such taskDef found by name: {name}")
        if response < 1 or (timeout > 0 and response > timeout):
            raise HTTPException(400, f"TaskDef: {name} responseTimeoutSeconds: {response} "
                                     f"must be >= 1 and <= timeoutSeconds: {timeout}")
        self.task_defs[name] = task_def
        self.writes.append(("PUT" if update else "POST", f"taskdef {name}"))

    def put_workflow_def(self, workflow: dict, *, overwrite: bool, method: str = "POST") -> None:
        key = (workflow.get("name"), int(workflow.get("version") or 1))
        if key in self.workflow_defs and not (overwrite and self.post_overwrite) \
                and method == "POST":
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
        self.workflow_defs[key] = {**copy.deepcopy(workflow), "version": key[1],
                                   "createTime": _now()}
        self.writes.append((method, f"workflow {key[0]} v{key[1]}"))

    def get_workflow_def(self, name: str, version: int | None) -> dict:
        versions = sorted(v for (n, v) in self.workflow_defs if n == name)
        if not versions or (version is not None and version not in versions):
            raise HTTPException(404, f"No such workflow found by name: {name}, "
                                     f"version: {version}")
        return self.workflow_defs[(name, version if version is not None else versions[-1])]

    # --- execution ----------------------------------------------------------------------------
    def start(self, request: dict, *, parent: tuple[str, str] | None = None) -> str:
        name, version = request.get("name"), request.get("version")
        definition = self.get_workflow_def(name, int(version) if version else None)
        workflow_id = str(uuid.uuid4())
        self.workflows[workflow_id] = {
            "workflowId": workflow_id, "workflowName": name,
            "workflowVersion": definition.get("version", 1), "status": "RUNNING",
            "input": {**(definition.get("inputTemplate") or {}), **(request.get("input") or {})},
            "output": {}, "createTime": _now(), "endTime": 0, "reasonForIncompletion": None,
            "correlationId": request.get("correlationId"),
            "taskToDomain": request.get("taskToDomain") or {},
            "tasks": [], "_def": definition, "_next": 0, "_parent": parent,
            "parentWorkflowId": parent[0] if parent else None}
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
            field_name, _, path = rest.partition(".")
            return _read(workflow.get(field_name), path) if path else workflow.get(field_name)
        task = self._latest(workflow, head)
        if task is None:
            return None
        field_name, _, path = rest.partition(".")
        data = task.get({"output": "_output", "input": "_input"}.get(field_name, field_name))
        return copy.deepcopy(_read(data, path) if path else data)

    def _latest(self, workflow: dict, ref: str) -> dict | None:
        return workflow["_refs"].get(ref) if "_refs" in workflow else None

    # --- payloads (ExternalPayloadStorageUtils.verifyAndUpload) ---------------------------------
    def _verify(self, task: dict, kind: str) -> bool:
        """Keep a task payload within the limits; False when the task failed for its size."""
        data = task["_input" if kind == "input" else "_output"]
        if not data:
            return True
        size = _size(data)
        where = f"{task['referenceTaskName']} {kind}"
        if size > self.payloads.largest:
            self.payloads.largest, self.payloads.largest_at = size, where
        public = "inputData" if kind == "input" else "outputData"
        if size > self.limits.max_kb * 1024:
            self.payloads.refused.append((task["referenceTaskName"], kind, size))
            task.update({"status": "FAILED_WITH_TERMINAL_ERROR", "endTime": _now(),
                         public: {}, "reasonForIncompletion":
                         f"The payload size: {size} of task: {task['taskId']} in workflow: "
                         f"{task['workflowInstanceId']}  is greater than the permissible "
                         f"limit: {self.limits.max_kb * 1024} bytes"})
            task["_input" if kind == "input" else "_output"] = {}
            return False
        if size > self.limits.threshold_kb * 1024:
            path = f"{uuid.uuid4()}.json"
            self.external[path] = data
            self.payloads.externalized.append((task["referenceTaskName"], kind, size))
            task[public] = {}
            task["externalInputPayloadStoragePath" if kind == "input"
                 else "externalOutputPayloadStoragePath"] = path
        else:
            task[public] = data
        return True

    def _new_task(self, workflow: dict, spec: dict, inputs: dict, *, status: str = "SCHEDULED",
                  retry_count: int = 0, delay: float = 0, task_type: str | None = None) -> dict:
        task_def = self.task_defs.get(spec["name"]) or (
            NO_TASK_DEF if spec["type"] in SYSTEM_TYPES else TASK_DEF_DEFAULTS)
        kind = task_type or (spec["type"] if spec["type"] != "SIMPLE" else spec["name"])
        domains = workflow["taskToDomain"]
        task = {"taskId": str(uuid.uuid4()), "taskType": kind,
                "taskDefName": spec["name"] if kind != "FORK" else "FORK",
                "referenceTaskName": spec["taskReferenceName"], "status": status,
                "inputData": {}, "outputData": {}, "workflowInstanceId": workflow["workflowId"],
                "workflowType": workflow["workflowName"], "retryCount": retry_count,
                "correlationId": workflow["correlationId"],
                "domain": domains.get(spec["name"], domains.get("*")) if spec["type"] == "SIMPLE"
                else None,
                "seq": len(workflow["tasks"]) + 1, "pollCount": 0, "callbackAfterSeconds": 0,
                "scheduledTime": _now(), "startTime": 0, "endTime": 0, "updateTime": _now(),
                "reasonForIncompletion": None, "workerId": None, "retried": False,
                "responseTimeoutSeconds": task_def["responseTimeoutSeconds"],
                "workflowTask": spec, "_input": inputs, "_output": {}, "_def": task_def,
                "_ready": time.time() + delay}
        workflow["tasks"].append(task)
        workflow.setdefault("_refs", {})[task["referenceTaskName"]] = task
        self.tasks[task["taskId"]] = task
        self._verify(task, "input")
        return task

    def _set_output(self, task: dict, output: dict) -> None:
        task["_output"] = output or {}
        self._verify(task, "output")

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
                if task.get("subWorkflowId"):
                    self.terminate(task["subWorkflowId"], "parent ended")
        if workflow["_parent"]:
            self._child_ended(workflow)
        self.changed.notify_all()

    def _handle_failures(self, workflow: dict) -> bool:
        """Retry failed tasks, or end the workflow; False when it ended."""
        for task in list(workflow["tasks"]):
            if task["retried"] or task["status"] not in (*_RETRIED, "FAILED_WITH_TERMINAL_ERROR"):
                continue
            task_def = task["_def"]
            if task["status"] in _RETRIED and task["retryCount"] < task_def["retryCount"] \
                    and not task.get("_final"):
                task["retried"] = True
                self._new_task(workflow, task["workflowTask"], task["_input"],
                               retry_count=task["retryCount"] + 1,
                               delay=task_def["retryDelaySeconds"])
                continue
            status = "TIMED_OUT" if task["status"] == "TIMED_OUT" else "FAILED"
            self._finish_workflow(workflow, status, f"Task {task['taskId']} "
                                  f"({task['referenceTaskName']}) {task['status']}: "
                                  f"{task['reasonForIncompletion']}")
            return False
        return True

    def decide(self, workflow_id: str) -> None:
        if workflow_id in self._deciding:
            return
        self._deciding.add(workflow_id)
        try:
            self._decide(workflow_id)
        finally:
            self._deciding.discard(workflow_id)

    def _decide(self, workflow_id: str) -> None:
        workflow = self.workflows[workflow_id]
        self._check_timeouts(workflow)
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
                    break
            else:
                break
        self.changed.notify_all()  # wakes long polls waiting for a scheduled task

    def _check_timeouts(self, workflow: dict) -> None:
        """DeciderService.checkWorkflowTimeout, checkTaskTimeout and isResponseTimedOut."""
        if workflow["status"] != "RUNNING":
            return
        now = _now()
        limit = int(workflow["_def"].get("timeoutSeconds") or 0)
        if limit > 0 and now - workflow["createTime"] >= limit * 1000 \
                and workflow["_def"].get("timeoutPolicy", "TIME_OUT_WF") == "TIME_OUT_WF":
            self._finish_workflow(workflow, "TIMED_OUT", f"Workflow timed out after "
                                  f"{(now - workflow['createTime']) // 1000} seconds. Timeout "
                                  f"configured as {limit} seconds.")
            return
        for task in workflow["tasks"]:
            if task["status"] not in ("SCHEDULED", "IN_PROGRESS") or task["taskType"] in \
                    SYSTEM_TYPES:
                continue
            task_def = task["_def"]
            timeout = int(task_def.get("timeoutSeconds") or 0)
            if timeout > 0 and task["startTime"] and now - task["startTime"] >= timeout * 1000:
                task.update(status="TIMED_OUT", endTime=now, reasonForIncompletion=
                            f"Task timed out after {(now - task['startTime']) // 1000} seconds."
                            f" Timeout configured as {timeout} seconds.")
                if task_def.get("timeoutPolicy") == "TIME_OUT_WF":
                    task["_final"] = True  # TerminateWorkflowException(TIMED_OUT): no retry
                continue
            response = int(task_def.get("responseTimeoutSeconds") or 0)
            if task["status"] == "IN_PROGRESS" and response and now - task["updateTime"] > (
                    response + task["callbackAfterSeconds"]) * 1000:
                task.update(status="TIMED_OUT", endTime=now, reasonForIncompletion=
                            f"responseTimeout: {response} exceeded for the taskId: "
                            f"{task['taskId']} with Task Definition: {task['taskDefName']}")

    def _schedule(self, workflow: dict, spec: dict) -> None:
        inputs = self.resolve(spec.get("inputParameters") or {}, workflow)
        kind = spec["type"]
        if kind == "SIMPLE":
            self._schedule_simple(workflow, spec, inputs)
        elif kind == "JSON_JQ_TRANSFORM":
            self._jq(workflow, spec, inputs)
        elif kind == "HTTP":
            self._http(workflow, spec, inputs)
        elif kind == "FORK_JOIN_DYNAMIC":
            self._fork(workflow, spec, inputs)
        elif kind == "JOIN":  # a JOIN reached without its fork: nothing to wait for
            self._new_task(workflow, spec, {"joinOn": spec.get("joinOn") or []},
                           status="IN_PROGRESS")
        else:
            raise HTTPException(400, f"task type {kind} is not supported by the test server")

    def _run_system(self, workflow: dict, spec: dict, inputs: dict, run: Any) -> None:
        task = self._new_task(workflow, spec, inputs, status="IN_PROGRESS")
        if task["status"] != "IN_PROGRESS":  # failed for its input's size
            return
        task["startTime"] = _now()
        status, output, reason = run(task["_input"])
        task.update(status=status, reasonForIncompletion=reason)
        self._set_output(task, output)
        task["endTime"] = _now()

    def _jq(self, workflow: dict, spec: dict, inputs: dict) -> None:
        def run(data: dict) -> tuple[str, dict, str | None]:
            try:
                results = jq.compile(data["queryExpression"]).input_value(data).all()
            except Exception as exc:  # noqa: BLE001 - JsonJqTransform: FAILED, output.error
                return "FAILED", {"error": str(exc)}, str(exc)
            return "COMPLETED", {"result": results[0] if results else None,
                                 "resultList": results}, None
        self._run_system(workflow, spec, inputs, run)

    def _http(self, workflow: dict, spec: dict, inputs: dict) -> None:
        def run(data: dict) -> tuple[str, dict, str | None]:
            request = data.get("http_request") or {}
            try:
                answer = httpx.request(request.get("method", "GET"), request["uri"],
                                       json=request.get("body"),
                                       headers=request.get("headers") or {},
                                       timeout=(request.get("readTimeOut") or 3000) / 1000)
            except httpx.HTTPError as exc:
                return "FAILED", {"response": str(exc)}, str(exc)
            try:
                body = answer.json()
            except ValueError:
                body = answer.text
            response = {"body": body, "statusCode": answer.status_code,
                        "headers": dict(answer.headers)}
            ok = 200 <= answer.status_code < 300
            return ("COMPLETED" if ok else "FAILED"), {"response": response}, (
                None if ok else str(body))
        self._run_system(workflow, spec, inputs, run)

    def _fork(self, workflow: dict, spec: dict, inputs: dict) -> None:
        forks = copy.deepcopy(inputs.get(spec["dynamicForkTasksParam"]) or [])
        fork_inputs = inputs.get(spec["dynamicForkTasksInputParamName"])
        join_spec = workflow["_def"]["tasks"][workflow["_next"] + 1]
        if not isinstance(fork_inputs, dict):
            self._finish_workflow(workflow, "FAILED", "Input to the dynamically forked tasks "
                                  f"is not a map -> expecting a map of K,V  but found "
                                  f"{fork_inputs}")
            return
        forked_defs = []
        for forked in forks:
            forked = {**WORKFLOW_TASK_DEFAULTS, **forked}
            forked["inputParameters"] = {**forked["inputParameters"],
                                         **(fork_inputs.get(forked["taskReferenceName"]) or {})}
            if forked["type"] == "SIMPLE" and "taskDefinition" not in forked:
                forked["taskDefinition"] = self.task_defs.get(forked["name"])
            forked_defs.append(forked)
        fork_input = {"forkedTasks": [f["taskReferenceName"] for f in forked_defs],
                      "forkedTaskDefs": forked_defs, **inputs}
        fork = self._new_task(workflow, spec, fork_input, status="COMPLETED", task_type="FORK")
        fork["startTime"] = fork["endTime"] = _now()
        if fork["status"] != "COMPLETED":  # refused for its size: the workflow fails
            return
        for forked in forked_defs:  # DeciderService.getTasksToBeScheduled: resolved again
            spec_of = {k: v for k, v in forked.items() if k != "taskDefinition"}
            inputs_of = self.resolve(forked["inputParameters"], workflow)
            if forked["type"] == "SUB_WORKFLOW":
                self._sub_workflow(workflow, spec_of, inputs_of)
            else:
                self._schedule_simple(workflow, spec_of, inputs_of)
        workflow["_next"] += 1
        self._new_task(workflow, join_spec,
                       {"joinOn": [f["taskReferenceName"] for f in forked_defs]},
                       status="IN_PROGRESS")

    def _sub_workflow(self, workflow: dict, spec: dict, inputs: dict) -> None:
        """SubWorkflowTaskMapper + SubWorkflow: the task IN_PROGRESS while the child runs with
        the resolved inputs; it ends as the child ends, its output the child's output."""
        params = spec.get("subWorkflowParam") or {}
        task = self._new_task(workflow, spec, inputs, status="IN_PROGRESS")
        task["startTime"] = _now()
        child = self.start({"name": params.get("name"), "version": params.get("version"),
                            "input": inputs, "correlationId": workflow["correlationId"],
                            "taskToDomain": workflow["taskToDomain"]},
                           parent=(workflow["workflowId"], task["taskId"]))
        task["subWorkflowId"] = child

    def _child_ended(self, child: dict) -> None:
        parent_id, task_id = child["_parent"]
        task = self.tasks[task_id]
        if task["status"] != "IN_PROGRESS":
            return
        status = {"COMPLETED": "COMPLETED", "TIMED_OUT": "TIMED_OUT",
                  "TERMINATED": "CANCELED"}.get(child["status"], "FAILED")
        task.update(status=status, endTime=_now(),
                    reasonForIncompletion=child["reasonForIncompletion"])
        self._set_output(task, {**child["output"], "subWorkflowId": child["workflowId"]})
        if parent_id not in self._deciding:
            self.decide(parent_id)

    def _check_join(self, workflow: dict, join: dict) -> bool:
        """Join.java: done when every fork's latest attempt COMPLETED (a failed one ends the
        workflow through the retry rules first); the output leaves out empty outputs."""
        forked = [self._latest(workflow, ref) for ref in join["_input"]["joinOn"]]
        if any(task["status"] != "COMPLETED" for task in forked):
            return False
        join.update(status="COMPLETED", endTime=_now())
        self._set_output(join, {task["referenceTaskName"]: task["_output"] for task in forked
                                if task["_output"]})
        return True

    def sweep(self) -> None:
        """Time out tasks and workflows (the decider's periodic evaluation)."""
        for workflow_id, workflow in list(self.workflows.items()):
            if workflow["status"] == "RUNNING":
                self.decide(workflow_id)

    def poll(self, task_type: str, worker_id: str, count: int,
             domain: str | None = None) -> list[dict]:
        now = time.time()
        found = []
        for task in self.tasks.values():
            if len(found) >= count:
                break
            if task["taskType"] == task_type and task["status"] == "SCHEDULED" \
                    and task["_ready"] <= now and task["domain"] == (domain or None):
                task.update(status="IN_PROGRESS", workerId=worker_id,
                            startTime=task["startTime"] or _now(), updateTime=_now(),
                            pollCount=task["pollCount"] + 1)
                found.append(task)
        return found

    def update(self, result: dict) -> dict | None:
        """WorkflowExecutorOps.updateTask; returns the task (None: a lease extension)."""
        task = self.tasks.get(result.get("taskId", ""))
        if task is None:
            raise HTTPException(404, f"No such task found by id: {result.get('taskId')}")
        if result.get("extendLease"):
            if task["status"] not in _TERMINAL:
                task["updateTime"] = _now()
            return None
        workflow = self.workflows[task["workflowInstanceId"]]
        if task["status"] in _TERMINAL or workflow["status"] != "RUNNING":
            return task  # an update after the task or workflow ended is ignored
        status = result.get("status")
        delay = int(result.get("callbackAfterSeconds") or 0)
        task.update(status="SCHEDULED" if status == "IN_PROGRESS" else status,
                    reasonForIncompletion=result.get("reasonForIncompletion"),
                    workerId=result.get("workerId"), callbackAfterSeconds=delay,
                    updateTime=_now())
        self._set_output(task, result.get("outputData") or {})
        if task["status"] == "SCHEDULED":
            task["_ready"] = time.time() + delay  # queueDAO.postpone
        elif task["status"] in _TERMINAL:
            task["endTime"] = _now()
        self.decide(task["workflowInstanceId"])
        return task

    def terminate(self, workflow_id: str, reason: str | None) -> None:
        workflow = self.workflows.get(workflow_id)
        if workflow is None:
            raise HTTPException(404, f"No such workflow found by id: {workflow_id}")
        if workflow["status"] == "RUNNING":
            self._finish_workflow(workflow, "TERMINATED", reason)


def _public(value: dict) -> dict:
    return {key: val for key, val in value.items() if not key.startswith("_")}


def _wire(task: dict) -> dict:
    return json.loads(json.dumps(_public(task)))


def create_app(state: ConductorState | None = None, *, sweep_seconds: float = 0.2) -> FastAPI:
    """The FastAPI app under `/api`; `app.state.conductor` is the state (for test asserts).
    A daemon thread re-evaluates running workflows every `sweep_seconds` (the decider queue's
    sweeper: timeouts)."""
    state = state or ConductorState()
    app = FastAPI()
    app.state.conductor = state
    stop = threading.Event()
    app.state.stop_sweeper = stop

    def sweeper() -> None:
        while not stop.wait(sweep_seconds):
            with state.lock:
                state.sweep()

    threading.Thread(target=sweeper, daemon=True, name="conductor-sweeper").start()

    @app.post("/api/metadata/taskdefs")
    def register_task_defs(task_defs: list[dict] = Body(...)) -> Response:
        with state.lock:
            for task_def in task_defs:
                state.put_task_def(task_def)
        return Response(status_code=200)

    @app.put("/api/metadata/taskdefs")
    def update_task_def(task_def: dict = Body(...)) -> Response:
        with state.lock:
            state.put_task_def(task_def, update=True)
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

    @app.put("/api/metadata/workflow")
    def update_workflows(workflows: list[dict] = Body(...)) -> Response:
        with state.lock:
            for workflow in workflows:
                state.put_workflow_def(workflow, overwrite=True, method="PUT")
        return Response(status_code=200)

    @app.get("/api/metadata/workflow/{name}")
    def get_workflow_def(name: str, version: int | None = None) -> dict:
        with state.lock:
            return state.get_workflow_def(name, version)

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
            body = _public(workflow)
            body["tasks"] = [_public(t) for t in workflow["tasks"]] if includeTasks else []
            return json.loads(json.dumps(body))

    @app.get("/api/workflow/{workflow_id}/status")
    def workflow_status(workflow_id: str) -> dict:
        body = get_workflow(workflow_id, includeTasks=False)
        return {key: body[key] for key in ("workflowId", "status", "output")}

    @app.delete("/api/workflow/{workflow_id}")
    def terminate(workflow_id: str, reason: str | None = None) -> Response:
        with state.lock:
            state.terminate(workflow_id, reason)
        return Response(status_code=200)

    @app.get("/api/tasks/{task_id}")
    def get_task(task_id: str) -> dict:
        with state.lock:
            if task_id not in state.tasks:
                raise HTTPException(404, f"No such task found by id: {task_id}")
            return _wire(state.tasks[task_id])

    def _poll(task_type: str, worker_id: str, count: int, timeout_ms: int,
              domain: str | None) -> list[dict]:
        deadline = time.time() + min(timeout_ms, 5000) / 1000
        with state.lock:
            while True:
                found = state.poll(task_type, worker_id, count, domain)
                if found or time.time() >= deadline:
                    return [_wire(t) for t in found]
                state.changed.wait(max(0.0, min(deadline - time.time(), 0.05)))

    @app.get("/api/tasks/poll/batch/{task_type}")
    def batch_poll(task_type: str, workerid: str = "", count: int = 1, timeout: int = 100,
                   domain: str | None = None) -> list[dict]:
        return _poll(task_type, workerid, count, timeout, domain)

    @app.get("/api/tasks/poll/{task_type}")
    def poll(task_type: str, workerid: str = "", domain: str | None = None) -> Response:
        found = _poll(task_type, workerid, 1, 0, domain)
        return JSONResponse(found[0]) if found else Response(status_code=204)

    @app.post("/api/tasks/update-v2")
    def update_v2(result: dict = Body(...)) -> Response:
        with state.lock:
            task = state.update(result)
            if task is None or task["status"] not in _TERMINAL:
                return Response(status_code=204)
            found = state.poll(task["taskType"], result.get("workerId") or "", 1,
                               task["domain"])
            return JSONResponse(_wire(found[0])) if found else Response(status_code=204)

    @app.post("/api/tasks")
    def update(result: dict = Body(...)) -> PlainTextResponse:
        with state.lock:
            state.update(result)
        return PlainTextResponse(result["taskId"])

    return app
