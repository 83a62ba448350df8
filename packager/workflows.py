"""Orchestrator artifacts for both engines at once, from a chain or from one built project.

- `write_workflows(pipeline, describes, out)`: the Conductor task definitions and workflow
  (`packager emit conductor`'s files) and the Airflow operators and DAG (`packager emit
  airflow`'s files) in one folder: what `packager pipeline emit` writes.
- `service_pipeline(describe, project, profiles)`: the one-step example pipeline of a single
  service (each input it takes with a default or as required becomes a pipeline input, each
  output a pipeline output), so `packager build --emit-workflows` can write the service's
  TaskDef, its operator module, and a DAG and a workflow calling it through the same
  generators as a chain.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pesto_factory.adapters.pipeline import Pipeline, input_schema, output_schema, parse_pipeline

__all__ = ["service_pipeline", "service_key", "write_workflows"]

_PIPELINE_TYPES = ("integer", "number", "string", "boolean", "object", "array")


def write_workflows(pipeline: Pipeline, describes: Mapping[str, Mapping[str, Any]],
                    out: Path, *, airflow_out: Path | None = None,
                    source: str | None = None) -> list[Path]:
    """Check the types, then write both engines' files into `out` (the Airflow ones into
    `airflow_out` when given); the paths written. `source` names what the Airflow files'
    header says they come from (default: the spec's file name)."""
    from pesto_factory.adapters.airflow.generate import emit
    from pesto_factory.adapters.pipeline import check_types
    from pesto_factory.packager.cli.emit_conductor import write_conductor

    check_types(pipeline, describes)
    written = write_conductor(pipeline, describes, out)
    airflow = emit(pipeline, describes, airflow_out or out, source=source)
    return [*written, airflow.operators, airflow.dag]


def service_key(describe: Mapping[str, Any]) -> str:
    """The service's name in a spec: the last part of its describe name (`pesto/ndvi` ->
    `ndvi`), in the spec's name alphabet."""
    name = str(describe.get("name") or "service").rsplit("/", 1)[-1]
    key = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-_")
    return key if key[:1].isalpha() else f"s-{key}"[:63]


def _input_type(schema: Any, root: Mapping[str, Any], depth: int = 0) -> str:
    """The pipeline input type of one property of an input schema (`object` when unreadable)."""
    if not isinstance(schema, Mapping) or depth > 8:
        return "object"
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        if name in ("Image", "ImageRef"):
            return name
        target = root.get("definitions", {}).get(name) if ref.startswith("#/definitions/") \
            else None
        return _input_type(target, root, depth + 1)
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else kinds if isinstance(kinds, list) else []
    return next((kind for kind in kinds if kind in _PIPELINE_TYPES), "object")


def service_pipeline(describe: Mapping[str, Any], project: Path,
                     profiles: Sequence[str] = ()) -> Pipeline:
    """The one-step pipeline calling the service of `project` (described by `describe`).

    Inputs without a default that the service does not require are left out (the service
    decides); every output property is a pipeline output.
    """
    key = service_key(describe)
    schema = input_schema(describe)
    required = set(schema.get("required", []))
    inputs: dict[str, dict[str, Any]] = {}
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, Mapping) or ("default" not in prop and name not in required):
            continue
        spec: dict[str, Any] = {"type": _input_type(prop, schema)}
        if "default" in prop:
            spec["default"] = prop["default"]
        if isinstance(prop.get("description"), str):
            spec["description"] = prop["description"]
        inputs[name] = spec
    outputs = {name: f"${{{key}.{name}}}"
               for name in (output_schema(describe).get("properties") or {})}
    title = describe.get("title") or describe.get("name") or key
    spec = {
        "name": key,
        "description": f"One call of {title} {describe.get('version', '')}".rstrip()
                       + ": the example pipeline of the service "
                       "(packager build --emit-workflows).",
        "inputs": inputs,
        "services": {key: {"project": str(Path(project).resolve()),
                           "profiles": list(profiles)}},
        "steps": [{"id": key, "service": key,
                   "inputs": {name: f"${{inputs.{name}}}" for name in inputs}}],
        "outputs": outputs,
    }
    return parse_pipeline(json.dumps(spec), base_dir=Path(project).resolve().parent)
