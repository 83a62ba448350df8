"""Registering task definitions and workflows on a Conductor server through the SDK's public
metadata client, the same way on every 3.x server.

- Task definitions: created with `register_task_def` (POST) when the server has none of that
  name, replaced with `update_task_def` (PUT) when it differs, left alone when equal.
- Workflows: `update_workflow_def` (PUT /metadata/workflow, a list: create or replace, on every
  3.x; `POST ...?overwrite=true` exists only since v3.31.2, older servers answer 409 to a second
  POST). Version policy: the latest registered version is kept when its definition equals
  ours (nothing is written), else ours is registered as latest + 1, so a changed definition
  never rewrites the one running workflows were started with; a first registration uses the
  generated version.

JSON becomes SDK models by their public `attribute_map` / `swagger_types`, and the server's
answers JSON again by `ApiClient.sanitize_for_serialization`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pesto_factory.schemas.errors import PestoError

__all__ = ["RegistrationError", "register", "register_path", "to_model"]

#: WorkflowDef fields the server adds or owns: not part of "the definition changed".
_SERVER_FIELDS = {"createTime", "updateTime", "createdBy", "updatedBy", "version", "ownerApp",
                  "accessPolicy", "overwriteTasks"}


class RegistrationError(PestoError):
    """A definition the server refused, or files that hold none."""

    status_code = 400


def to_model(kind: str, data: Any) -> Any:
    """JSON -> an SDK model (`kind`: TaskDef, WorkflowDef, ...) by its public attribute_map."""
    import conductor.client.http.models as models

    listed = re.fullmatch(r"list\[(.+)\]", kind)
    if listed:
        return [to_model(listed.group(1), item) for item in data or []]
    mapped = re.fullmatch(r"dict\((\w+), (.+)\)", kind)
    if mapped:
        return {key: to_model(mapped.group(2), value) for key, value in (data or {}).items()}
    cls = getattr(models, kind, None)
    if cls is None or not hasattr(cls, "attribute_map") or not isinstance(data, Mapping):
        return data
    by_json = {json_key: attr for attr, json_key in cls.attribute_map.items()}
    kwargs = {by_json[key]: to_model(cls.swagger_types[by_json[key]], value)
              for key, value in data.items() if key in by_json}
    return cls(**kwargs)


def _json(model: Any) -> Any:
    from conductor.client.http.api_client import ApiClient

    return json.loads(json.dumps(ApiClient().sanitize_for_serialization(model)))


def _content(workflow: Mapping[str, Any]) -> Any:
    """A workflow definition as compared: our fields, normalised through the SDK's models
    (the server's answer lists defaults we may not write)."""
    return {key: value for key, value in _json(to_model("WorkflowDef", dict(workflow))).items()
            if key not in _SERVER_FIELDS}


def _status(error: Exception) -> int | None:
    return getattr(error, "status", None) or getattr(error, "code", None)


def register(configuration: Any, task_defs: Sequence[Mapping[str, Any]],
             workflows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Register task definitions, then workflows; returns one line per definition saying
    what was done."""
    from conductor.client.orkes_clients import OrkesClients

    metadata = OrkesClients(configuration).get_metadata_client()
    done = []
    try:
        for task_def in task_defs:
            done.append(_task_def(metadata, task_def))
        for workflow in workflows:
            done.append(_workflow(metadata, workflow))
    except Exception as error:
        status = _status(error)
        if status is None:
            raise
        if status == 0:  # the SDK's code for no answer at all
            raise RegistrationError(f"Conductor at {configuration.host}: no answer "
                                    f"({getattr(error, 'reason', error)})") from None
        body = getattr(error, "body", None) or str(error)
        raise RegistrationError(f"Conductor refused a definition ({status}): "
                                f"{str(body)[:500]}") from None
    return done


def _current(read: Any, name: str) -> Any:
    """The server's definition as JSON, None when it has none (404)."""
    try:
        return _json(read(name))
    except Exception as error:
        if _status(error) != 404:
            raise
        return None


def _task_def(metadata: Any, task_def: Mapping[str, Any]) -> str:
    name = task_def["name"]
    current = _current(metadata.get_task_def, name)
    ours = _json(to_model("TaskDef", dict(task_def)))
    if current is None:
        metadata.register_task_def(to_model("TaskDef", dict(task_def)))
        return f"task {name}: created"
    if all(current.get(key) == value for key, value in ours.items()):
        return f"task {name}: unchanged"
    metadata.update_task_def(to_model("TaskDef", dict(task_def)))
    return f"task {name}: updated"


def _workflow(metadata: Any, workflow: Mapping[str, Any]) -> str:
    name = workflow["name"]
    current = _current(metadata.get_workflow_def, name)
    version = int(workflow.get("version") or 1)
    if current is not None:
        theirs = {key: value for key, value in current.items() if key not in _SERVER_FIELDS}
        ours = _content(workflow)
        if all(theirs.get(key) == value for key, value in ours.items()):
            return f"workflow {name} v{current['version']}: unchanged"
        version = int(current.get("version") or 0) + 1
    metadata.update_workflow_def(to_model("WorkflowDef", {**workflow, "version": version}),
                                 overwrite=True)
    return f"workflow {name} v{version}: " + ("created" if current is None else "new version")


def _definitions_in(path: Path) -> tuple[list[dict], list[dict]]:
    """Task definitions and workflows of emitted JSON files (`taskdefs.json`,
    `*.workflow.json`) in a folder."""
    task_defs: list[dict] = []
    workflows: list[dict] = []
    for file in sorted(path.glob("*.json")):
        try:
            value = json.loads(file.read_text())
        except ValueError as error:
            raise RegistrationError(f"{file}: not JSON ({error})") from None
        if isinstance(value, list):
            task_defs += [entry for entry in value if isinstance(entry, dict)]
        elif isinstance(value, dict) and "tasks" in value:
            workflows.append(value)
    if not task_defs and not workflows:
        raise RegistrationError(f"{path}: no taskdefs.json or *.workflow.json to register")
    # sub-workflows (PIPELINE__STEP) before the workflows that run them
    return task_defs, sorted(workflows, key=lambda w: "__" not in str(w.get("name")))


def register_path(configuration: Any, path: str | Path, *,
                  describes: Mapping[str, Mapping[str, Any]] | None = None,
                  options: Mapping[str, Any] | None = None) -> Iterator[str]:
    """Register a folder of emitted JSON, or a pipeline spec (generated from `describes`, the
    services' describe documents)."""
    from pesto_factory.adapters.conductor.generate import generate_task_defs, generate_workflows

    source = Path(path)
    if source.is_dir():
        task_defs, workflows = _definitions_in(source)
    else:
        from pesto_factory.adapters.pipeline import load_pipeline

        if describes is None:
            raise RegistrationError(f"{source}: a spec is registered with its services' "
                                    "describe documents (or register emitted JSON files)")
        pipeline = load_pipeline(source, describes=describes)
        task_defs = generate_task_defs(describes)
        workflows = generate_workflows(pipeline, describes, options=options)
    yield from register(configuration, task_defs, workflows)
