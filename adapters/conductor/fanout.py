"""The shape of a fan-out in a Conductor workflow: batches of items per forked task, and the
fan-in of their outputs in item order, inline or by manifest.

    STEP__fork   JSON_JQ_TRANSFORM  list -> one forked task per batch; its input is a JsonPath
                                    slice `${LIST[a:b]}` (Conductor resolves a forked task's
                                    inputParameters when it schedules it: DeciderService
                                    .getTasksToBeScheduled via ParametersUtils/Jayway JsonPath),
                                    the batch's offset and the step's input template
    STEP         FORK_JOIN_DYNAMIC  classic form (dynamicForkTasksParam)
    STEP__join   JOIN               joinOn filled by Conductor at run time
    STEP__collect[_PATH]  JSON_JQ_TRANSFORM, per fan-in read: the JOIN output sorted by offset;
                                    `inline`: the outputs concatenated (and read along PATH);
                                    `manifest`: `{"__pesto_manifests": [URI...], "path": PATH}`,
                                    expanded by the reading step's worker.

With `sub_workflow_forks: K` the forks of STEP are SUB_WORKFLOW tasks, one per chunk of K
batches, each running `chunk_workflow` (the same prep / FORK / JOIN over its slice; output
`{offset, batches}`), and the collector reads the batches through the chunks.

Sizes (S = the list, n = items): the prep task's input holds the list once (as the step that
made it does); every other payload holds O(forks) small entries, bounded by `max_forks`; a
batch's input holds `batch` items. A forked task never carries a description (its TaskDef is
embedded in the FORK task's input once per fork: ForkJoinDynamicTaskMapper).

The item of a batch is marked in the template as `{"__pesto_item": [path...]}`; the worker
(`pesto_factory.adapters.conductor.batch`) fills it per item. Every batch answers a non-empty
output (`offset` at least): Conductor's JOIN leaves out forks whose output is empty (Join.java),
which must never shift items.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from pesto_factory.adapters.conductor.options import StepOptions
from pesto_factory.adapters.pipeline import Ref, Step

__all__ = ["BATCH", "ITEM", "MANIFESTS", "SEP", "chunk_workflow", "collector", "collector_ref",
           "fan_out_tasks"]

SEP = "__"  # between a step id and the id of a task the generator adds for it
BATCH = "__pesto_batch"  # a forked task's input: {items, offset, template, parallel, fanIn}
ITEM = "__pesto_item"  # in a batch template: the item, read along a path
MANIFESTS = "__pesto_manifests"  # a manifest fan-in: the batches' manifest URIs in order


class RefWriter(Protocol):
    def path(self, ref: Ref) -> str: ...

    def expression(self, ref: Ref) -> str: ...


def collector_ref(ref: Ref) -> str:
    """The reference name of the collector task of a fan-in read."""
    return f"{ref.name}{SEP}collect" + "".join(f"_{part}" for part in ref.path)


def _template(value: Any, refs: RefWriter) -> Any:
    if isinstance(value, Ref):
        return {ITEM: list(value.path)} if value.kind == "item" else refs.expression(value)
    if isinstance(value, Mapping):
        return {str(key): _template(sub, refs) for key, sub in value.items()}
    if isinstance(value, (list, tuple)):
        return [_template(sub, refs) for sub in value]
    return value


def _batches_query(prefix: str, task: str, input_entry: str) -> str:
    """jq: from {items, source, batch, maxForks, base, template, run} one forked task per
    batch (`task`, `input_entry`: jq over $k, $a (offset in the list), $b, $base, $src, $t,
    $run). `"$" + "{"` writes an expression without one in the query (Conductor would
    substitute it in the query itself). No `floor` result is ever printed: jackson-jq's floor
    is a double ("3.0"), while its range and arithmetic give integers (asNumericNode)."""
    return (
        "(.items | length) as $n"
        " | ([.batch, ((($n + .maxForks - 1) / .maxForks) | floor)] | max) as $b"
        " | .source as $src | .template as $t | .run as $run | (.base // 0) as $base"
        " | [range(0; ((($n + $b - 1) / $b) | floor))]"
        " | map(. as $k | ($k * $b) as $a"
        f" | {{ref: ({json.dumps(prefix)} + ($k | tostring)), input: {input_entry}}})"
        f" | {{tasks: map({task}), inputs: (map({{key: .ref, value: .input}}) | from_entries)}}")


_SLICE = '("$" + "{" + $src + "[" + ($a | tostring) + ":" + ($a + $b | tostring) + "]}")'


def _prep(step: Step, name: str, refs: RefWriter, options: StepOptions, *,
          sub_workflow: Mapping[str, Any] | None) -> dict[str, Any]:
    """The JQ task cutting the list into forks: batches (SIMPLE tasks of the service), or
    chunks of `sub_workflow_forks` batches (SUB_WORKFLOW tasks of `sub_workflow`)."""
    assert step.foreach is not None
    run: dict[str, Any] = {"parallel": options.parallel, "fanIn": options.fan_in}
    if sub_workflow is None:
        task = f'{{name: {json.dumps(name)}, taskReferenceName: .ref, type: "SIMPLE"}}'
        entry = (f'{{{json.dumps(BATCH)}: ({{items: {_SLICE}, offset: ($base + $a), '
                 "template: $t} + $run)}")
        batch, forks, what = options.batch_size, options.max_forks, f"{name} tasks"
    else:
        param = json.dumps({"name": sub_workflow["name"], "version": sub_workflow["version"]})
        task = (f'{{name: {json.dumps(sub_workflow["name"])}, taskReferenceName: .ref, '
                f'type: "SUB_WORKFLOW", subWorkflowParam: {param}}}')
        entry = f"{{items: {_SLICE}, offset: $a, template: $t}}"
        batch = options.batch_size * options.sub_workflow_forks
        forks, what = options.max_forks, f"sub-workflows {sub_workflow['name']}"
    return {"name": "json_jq_transform", "taskReferenceName": f"{step.id}{SEP}fork",
            "type": "JSON_JQ_TRANSFORM",
            "description": f"fan-out of {step.id}: {what} of {batch} items (at most {forks})",
            "inputParameters": {"items": refs.expression(step.foreach),
                                "source": refs.path(step.foreach), "batch": batch,
                                "maxForks": forks, "template": _template(dict(step.inputs), refs),
                                "run": run,
                                "queryExpression": _batches_query(f"{step.id}{SEP}", task, entry)}}


def _fork_join(step: Step) -> list[dict[str, Any]]:
    prep = f"{step.id}{SEP}fork"
    return [
        {"name": "fork_join_dynamic", "taskReferenceName": step.id,
         "type": "FORK_JOIN_DYNAMIC",
         "description": step.description or f"service {step.service}, once per item",
         "inputParameters": {"dynamicTasks": "${" + prep + ".output.result.tasks}",
                             "dynamicTasksInput": "${" + prep + ".output.result.inputs}"},
         "dynamicForkTasksParam": "dynamicTasks",
         "dynamicForkTasksInputParamName": "dynamicTasksInput"},
        # joinOn stays empty: Conductor fills it with the forks it schedules at run time
        {"name": "join", "taskReferenceName": f"{step.id}{SEP}join", "type": "JOIN",
         "joinOn": []},
    ]


def fan_out_tasks(step: Step, name: str, refs: RefWriter, options: StepOptions, *,
                  sub_workflow: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The prep, FORK_JOIN_DYNAMIC and JOIN tasks of a fan-out step (of its chunks when
    `sub_workflow` {name, version} runs each chunk)."""
    return [_prep(step, name, refs, options, sub_workflow=sub_workflow), *_fork_join(step)]


class _ChunkRefs:
    """Refs inside a chunk's sub-workflow: the list, template and offset are its inputs."""

    def path(self, ref: Ref) -> str:
        return "workflow.input.items"

    def expression(self, ref: Ref) -> str:
        return "${" + self.path(ref) + "}"


def chunk_workflow(step: Step, name: str, options: StepOptions, *, workflow_name: str,
                   version: int, owner: str, timeout_seconds: int) -> dict[str, Any]:
    """The sub-workflow of one chunk: its items cut into batches of the service, as a plain
    fan-out would; its output lists its batches' outputs ({ref: {offset, ...}})."""
    tasks = fan_out_tasks(step, name, _ChunkRefs(), options)
    prep = tasks[0]["inputParameters"]
    prep.update(template="${workflow.input.template}", base="${workflow.input.offset}",
                maxForks=options.sub_workflow_forks)
    return {"name": workflow_name, "version": version, "schemaVersion": 2,
            "description": f"one chunk of the fan-out {step.id} [generated by pesto-factory]",
            "ownerEmail": owner, "inputParameters": ["items", "offset", "template"],
            "tasks": tasks,
            "outputParameters": {"offset": "${workflow.input.offset}",
                                 "batches": "${" + step.id + SEP + "join.output}"},
            "restartable": True, "timeoutPolicy": "TIME_OUT_WF",
            "timeoutSeconds": timeout_seconds}


def _jq_field(part: str) -> str:
    return f"[{part}]" if part.isdigit() else f"[{json.dumps(part)}]"


def collector(ref: Ref, options: StepOptions) -> dict[str, Any]:
    """The fan-in of `ref`: the batches in item order (through the chunks' outputs with
    sub-workflows); inline, the outputs read along ref.path (a field is read from every item,
    a number picks an item); by manifest, their URIs."""
    batches = "[.[] | .batches | .[]]" if options.sub_workflow_forks else "[.[]]"
    query = f".join | {batches} | sort_by(.offset)"
    if options.fan_in == "manifest":
        query += f" | {{{json.dumps(MANIFESTS)}: map(.manifest), path: {json.dumps(list(ref.path))}}}"
    else:
        query += " | map(.results[])"
        listed = True
        for part in ref.path:
            if part.isdigit() and listed:
                query += f" | .[{part}]"
                listed = False
            elif listed:
                query += f" | map(.[{json.dumps(part)}])"
            else:
                query += f" | .{_jq_field(part)}"
    return {"name": "json_jq_transform", "taskReferenceName": collector_ref(ref),
            "type": "JSON_JQ_TRANSFORM",
            "description": f"fan-in of {ref.text}: the outputs in item order ({options.fan_in})",
            "inputParameters": {"join": "${" + ref.name + SEP + "join.output}",
                                "queryExpression": query}}
