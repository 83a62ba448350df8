"""Loading a pipeline spec: YAML -> JSON Schema (schemas/pipeline.json) -> checked `Pipeline`.

Every fault is reported with the file, the JSON pointer of the faulty value and its YAML line:
YAML syntax (line and column), the schema, then the graph checks that need the whole spec:
unknown services, inputs and steps in expressions, `${item}` outside a foreach step, duplicate
step ids, a foreach over something that is never a list, and cycles. With the services'
describe documents at hand, `pesto_factory.adapters.pipeline.typecheck` goes further (names and types).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jsonschema
import yaml
from pesto_factory.adapters.pipeline.expressions import compile_value
from pesto_factory.adapters.pipeline.model import (
    NO_DEFAULT,
    Pipeline,
    PipelineInput,
    Ref,
    ServiceRef,
    SpecError,
    SpecProblem,
    Step,
    escape_token,
)
from pesto_factory.adapters.pipeline.typecheck import check_types
from pesto_factory.schemas import load_schema

__all__ = ["load_pipeline", "parse_pipeline", "DEFAULT_ITEM"]

#: The item name of a foreach step without `as`.
DEFAULT_ITEM = "item"
_RESERVED = ("inputs",)


def load_pipeline(path: str | Path, *, describes: Mapping[str, Mapping[str, Any]] | None = None,
                  ) -> Pipeline:
    """Read and check the spec at `path`; with `describes` (service name -> describe document)
    check names and types against the services too."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SpecError(path, [SpecProblem("", f"cannot read the spec: {reason}")]) from None
    return parse_pipeline(text, source=path, describes=describes)


def parse_pipeline(text: str, *, source: str | Path | None = None,
                   base_dir: Path | None = None,
                   describes: Mapping[str, Mapping[str, Any]] | None = None) -> Pipeline:
    """Check a spec given as text; project paths are relative to `base_dir` (default: the
    folder of `source`, else the current folder)."""
    source_path = Path(source) if source is not None else None
    if base_dir is None:
        base_dir = source_path.parent if source_path is not None else Path.cwd()
    data, lines = _read_yaml(text, source_path)
    problems = [SpecProblem(pointer, message, lines.get(pointer))
                for pointer, message in _schema_faults(data)]
    if problems:
        raise SpecError(source_path, problems)
    pipeline = _build(data, lines, source_path, base_dir.resolve())
    if describes:
        check_types(pipeline, describes)
    return pipeline


# --- YAML --------------------------------------------------------------------------------------
def _read_yaml(text: str, source: Path | None) -> tuple[Any, dict[str, int]]:
    """The document and a JSON pointer -> line map; duplicate keys are faults (YAML keeps the
    last one silently, which hides typos)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown place"
        problem = exc.problem or exc.context or "syntax error"
        raise SpecError(source, [SpecProblem("", f"invalid YAML at {where}: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise SpecError(source, [SpecProblem("", f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    duplicates: list[SpecProblem] = []
    if node is not None:
        _map_lines(node, "", lines, duplicates)
    if duplicates:
        raise SpecError(source, duplicates)
    return data, lines


def _map_lines(node: yaml.Node, pointer: str, lines: dict[str, int],
               duplicates: list[SpecProblem]) -> None:
    lines.setdefault(pointer, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = f"{pointer}/{escape_token(key)}"
            if key in seen:
                duplicates.append(SpecProblem(child, f"duplicate key {key!r}",
                                              key_node.start_mark.line + 1))
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _map_lines(value_node, child, lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _map_lines(item, f"{pointer}/{index}", lines, duplicates)


# --- schema ------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    schema = load_schema("pipeline")
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def _schema_faults(data: Any) -> list[tuple[str, str]]:
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        return [("", f"a pipeline spec is a mapping (name, services, steps, ...), not {kind}")]
    faults = []
    for error in sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.path))):
        pointer = "".join(f"/{escape_token(str(part))}" for part in error.absolute_path)
        faults.append((pointer, _message(error)))
    return faults


def _message(error: jsonschema.ValidationError) -> str:
    """The schema's own `errorMessage` where it has one (patterns, oneOf), else jsonschema's."""
    custom = error.schema.get("errorMessage") if isinstance(error.schema, dict) else None
    if error.validator == "propertyNames" and error.context:
        inner = error.context[0]
        custom = inner.schema.get("errorMessage") if isinstance(inner.schema, dict) else None
        return f"{inner.instance!r}: {custom or inner.message}"
    if custom and error.validator in ("pattern", "oneOf"):
        shown = error.instance if isinstance(error.instance, str) else None
        return f"{shown!r}: {custom}" if shown is not None else custom
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        if allowed:
            return f"{error.message} (allowed: {', '.join(allowed)})"
    if error.validator == "dependencies":
        return "'as' names the item of a 'foreach': give 'foreach' too"
    return error.message


# --- model -------------------------------------------------------------------------------------
def _build(data: dict[str, Any], lines: dict[str, int], source: Path | None,
           base_dir: Path) -> Pipeline:
    faults: list[tuple[str, str]] = []
    inputs = {name: PipelineInput(name, spec["type"], spec.get("default", NO_DEFAULT),
                                  spec.get("description", ""))
              for name, spec in (data.get("inputs") or {}).items()}
    services = {name: _service(name, spec, base_dir) for name, spec in data["services"].items()}
    steps = tuple(_step(index, spec, faults) for index, spec in enumerate(data["steps"]))
    outputs = compile_value(data.get("outputs") or {}, pointer="/outputs", errors=faults)
    draft = Pipeline(name=data["name"], description=data.get("description", ""), inputs=inputs,
                     services=services, steps=steps, outputs=outputs, source=source,
                     locations=lines)
    faults += _graph_faults(draft)
    faults += [(f"/services/{escape_token(name)}/project", f"no such project folder {str(ref.project)!r}")
               for name, ref in services.items()
               if ref.project is not None and not ref.project.is_dir()]
    order, cycle = _topological_order(steps)
    if cycle:
        faults.append(("/steps", "the steps form a cycle: " + " -> ".join(cycle)))
    if faults:
        raise SpecError(source, [draft.problem(pointer, message) for pointer, message in faults])
    return Pipeline(name=draft.name, description=draft.description, inputs=inputs,
                    services=services, steps=steps, outputs=outputs, source=source,
                    order=order, locations=lines, conductor=data.get("conductor") or {},
                    output=data.get("output"),
                    airflow=MappingProxyType(dict(data.get("airflow") or {})))


def _service(name: str, spec: dict[str, Any], base_dir: Path) -> ServiceRef:
    project = spec.get("project")
    return ServiceRef(name=name, project=(base_dir / project).resolve() if project else None,
                      image=spec.get("image"), url=spec.get("url"),
                      profiles=tuple(spec.get("profiles", ())),
                      description=spec.get("description", ""))


def _step(index: int, spec: dict[str, Any], faults: list[tuple[str, str]]) -> Step:
    pointer = f"/steps/{index}"
    foreach: Ref | None = None
    item = None
    if "foreach" in spec:
        item = spec.get("as", DEFAULT_ITEM)
        compiled = compile_value(spec["foreach"], pointer=f"{pointer}/foreach", errors=faults)
        foreach = compiled if isinstance(compiled, Ref) else None
    inputs = compile_value(spec.get("inputs") or {}, item=item, pointer=f"{pointer}/inputs",
                           errors=faults)
    if foreach is None and item is not None:  # keep the step well-formed; the fault is recorded
        item = None
    return Step(id=spec["id"], service=spec["service"], inputs=inputs, foreach=foreach,
                item=item, description=spec.get("description", ""), index=index,
                conductor=spec.get("conductor") or {},
                airflow=MappingProxyType(dict(spec.get("airflow") or {})))


def _graph_faults(pipeline: Pipeline) -> list[tuple[str, str]]:
    faults: list[tuple[str, str]] = []
    ids = [step.id for step in pipeline.steps]
    for step in pipeline.steps:
        if ids.count(step.id) > 1 and ids.index(step.id) != step.index:
            faults.append((f"{step.pointer}/id", f"duplicate step id {step.id!r}"))
        if step.id in _RESERVED:
            faults.append((f"{step.pointer}/id", f"{step.id!r} is reserved: choose another id"))
        if step.service not in pipeline.services:
            faults.append((f"{step.pointer}/service", f"no service named {step.service!r} "
                           f"(services: {', '.join(pipeline.services)})"))
        if step.item is not None and (step.item in ids or step.item in _RESERVED):
            faults.append((f"{step.pointer}/as", f"item name {step.item!r} is also a step id "
                           "or reserved: choose another name"))
        for pointer, ref in step.refs():
            message = _ref_fault(pipeline, step, ref, in_foreach=pointer.endswith("/foreach"))
            if message:
                faults.append((pointer, message))
    for pointer, ref in pipeline.output_refs():
        message = _ref_fault(pipeline, None, ref, in_foreach=False)
        if message:
            faults.append((pointer, message))
    return faults


def _ref_fault(pipeline: Pipeline, step: Step | None, ref: Ref, *, in_foreach: bool) -> str | None:
    """What is wrong with one reference, if anything."""
    if ref.kind == "input":
        if ref.name not in pipeline.inputs:
            known = ", ".join(pipeline.inputs) or "none declared"
            return f"{ref.text}: no pipeline input {ref.name!r} (inputs: {known})"
        if in_foreach and not ref.path and pipeline.inputs[ref.name].type != "array":
            return (f"foreach over a non-list: input {ref.name!r} is "
                    f"{pipeline.inputs[ref.name].type}")
        return None
    if ref.kind == "item":
        return None  # only compiled inside a foreach step's inputs, for its own item name
    ids = [candidate.id for candidate in pipeline.steps]
    if ref.name not in ids:
        items = {candidate.item for candidate in pipeline.steps} | {DEFAULT_ITEM}
        if ref.name in items:
            return (f"{ref.text}: the item of a foreach step exists only in that step's "
                    "inputs")
        return f"{ref.text}: no step {ref.name!r} (steps: {', '.join(dict.fromkeys(ids))})"
    if step is not None and ref.name == step.id:
        return f"{ref.text}: a step cannot read its own output"
    target = pipeline.step(ref.name)
    if in_foreach and not ref.path and not target.fan_out:
        return (f"foreach over a non-list: {ref.text} is the output object of step "
                f"{ref.name!r}; name a list field, as in ${{{ref.name}.FIELD}}")
    return None


def _topological_order(steps: tuple[Step, ...]) -> tuple[tuple[str, ...], list[str]]:
    """A run order (spec order among ready steps), and a cycle as a path if there is one."""
    known = {step.id for step in steps}
    deps = {step.id: [dep for dep in step.depends_on if dep in known and dep != step.id]
            for step in steps}
    order: list[str] = []
    remaining = [step.id for step in steps]
    while remaining:
        ready = [sid for sid in remaining if all(dep in order for dep in deps[sid])]
        if not ready:
            return tuple(order), _find_cycle(remaining, deps)
        order.append(ready[0])
        remaining.remove(ready[0])
    return tuple(order), []


def _find_cycle(remaining: list[str], deps: dict[str, list[str]]) -> list[str]:
    path: list[str] = [remaining[0]]
    while True:
        nxt = next(dep for dep in deps[path[-1]] if dep in remaining)
        if nxt in path:
            return [*path[path.index(nxt):], nxt]
        path.append(nxt)
