"""Checking a pipeline against its services' describe documents: names and JSON types.

The describe document (`GET /api/v1/describe`, or `service.json` of a build) holds each
service's input schema and output schema, read through `describe.ServiceDescription` (its
`resolve_schema` follows the `$ref`s). With them the spec's expressions get a type:
`${inputs.x}` from the input's declared type, `${step.field}` from the output schema of the
step's service (a list of those for a fan-out step), `${item}` from the items of the foreach
list. The check refuses what would surely fail at run time: an output field the service does not
have, an input it does not take or a required one left out, a foreach over a non-list, a fan-in
of a step that is not a fan-out, and JSON types that cannot match. Schemas it cannot read
(no type, combinators) pass: the check is coarse on purpose and never refuses a working spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pesto_factory.adapters.pipeline.describe import (
    ServiceDescription,
    describe_view,
    resolve_schema,
    shared_definitions,
)
from pesto_factory.adapters.pipeline.model import Pipeline, Ref, SpecError, Step

__all__ = ["check_types", "input_schema", "output_schema"]

_Schema = Mapping[str, Any]
Described = ServiceDescription | Mapping[str, Any]
_Typed = tuple[_Schema | None, _Schema]  # (schema or None when unknown, document with definitions)

_INPUT_SCHEMAS: dict[str, dict[str, Any]] = {
    "Image": {"$ref": "#/definitions/Image"}, "ImageRef": {"$ref": "#/definitions/ImageRef"},
    **{name: {"type": name} for name in ("integer", "number", "string", "boolean", "object",
                                         "array")},
}


class _FieldFault(Exception):
    """A field an expression reads that the schema says is not there."""


def input_schema(describe: Described) -> _Schema:
    """The input JSON Schema of a describe document ({} when absent)."""
    return describe_view(describe).input_schema


def output_schema(describe: Described) -> _Schema:
    """The output JSON Schema of a describe document (geoprocessing: output.content.json)."""
    return describe_view(describe).output_schema


def check_types(pipeline: Pipeline, describes: Mapping[str, Described]) -> None:
    """Raise SpecError listing every fault found; services without a describe are skipped.

    `describes` maps service names to describe documents or their views (`collect_describes`).
    """
    describes = {name: describe_view(document) for name, document in describes.items()}
    faults: list[tuple[str, str]] = []
    for step in pipeline.ordered_steps():
        describe = describes.get(step.service)
        if describe is not None:
            faults += _step_faults(pipeline, step, describe, describes)
        elif any(ref.kind == "step" for _, ref in step.refs()):
            faults += _ref_faults(pipeline, step, describes)
    for pointer, ref in pipeline.output_refs():
        try:
            _ref_type(pipeline, None, ref, describes)
        except _FieldFault as exc:
            faults.append((pointer, str(exc)))
    if faults:
        raise SpecError(pipeline.source, [pipeline.problem(p, m) for p, m in faults])


def _ref_faults(pipeline: Pipeline, step: Step, describes: Mapping[str, Any]
                ) -> list[tuple[str, str]]:
    faults = []
    for pointer, ref in step.refs():
        try:
            _ref_type(pipeline, step, ref, describes)
        except _FieldFault as exc:
            faults.append((pointer, str(exc)))
    return faults


def _step_faults(pipeline: Pipeline, step: Step, describe: Mapping[str, Any],
                 describes: Mapping[str, Any]) -> list[tuple[str, str]]:
    faults = _ref_faults(pipeline, step, describes)
    if faults:
        return faults
    if step.foreach is not None:
        listed = _types(_ref_type(pipeline, step, step.foreach, describes))
        if listed is not None and "array" not in listed:
            faults.append((f"{step.pointer}/foreach", f"foreach over a non-list: "
                           f"{step.foreach.text} is {_named(listed)}"))
    schema = input_schema(describe)
    properties = schema.get("properties") or {}
    closed = schema.get("additionalProperties") is False
    for name, value in step.inputs.items():
        pointer = f"{step.pointer}/inputs/{name}"
        if name not in properties:
            if closed:
                faults.append((pointer, f"service {step.service!r} has no input {name!r} "
                               f"(inputs: {', '.join(properties) or 'none'})"))
            continue
        if isinstance(value, Ref):
            message = _mismatch(pipeline, step, name, value, (properties[name], schema),
                                describes)
            if message:
                faults.append((pointer, message))
    for name in schema.get("required") or ():
        if name not in step.inputs and "default" not in (properties.get(name) or {}):
            where = f"{step.pointer}/inputs" if step.inputs else step.pointer
            faults.append((where, f"required input {name!r} of service {step.service!r} "
                           "is not given"))
    return faults


def _mismatch(pipeline: Pipeline, step: Step, name: str, ref: Ref, expected: _Typed,
              describes: Mapping[str, Any]) -> str | None:
    produced = _ref_type(pipeline, step, ref, describes)
    if _compatible(produced, expected):
        return None
    wanted = _types(expected)
    takes = f"input {name!r} of service {step.service!r}"
    if ref.kind == "step" and not ref.path and wanted is not None and "array" in wanted \
            and not pipeline.step(ref.name).fan_out:
        return (f"{takes} takes a list, but {ref.text} is one output object: fan-in needs a "
                f"fan-out (foreach) step")
    if ref.kind == "step" and pipeline.step(ref.name).fan_out:
        return (f"{ref.text} is a list ({ref.name!r} is a fan-out step), but {takes} takes "
                f"{_described(expected)}")
    return f"{takes} takes {_described(expected)}, but {ref.text} gives {_described(produced)}"


# --- the type of an expression ------------------------------------------------------------------
def _ref_type(pipeline: Pipeline, step: Step | None, ref: Ref,
              describes: Mapping[str, Any]) -> _Typed:
    if ref.kind == "input":
        declared = pipeline.inputs[ref.name].type
        typed: _Typed = (_INPUT_SCHEMAS[declared], shared_definitions())
        label = f"input {ref.name!r}"
    elif ref.kind == "item":
        assert step is not None and step.foreach is not None
        listed = _deref(_ref_type(pipeline, None, step.foreach, describes))
        typed = (listed[0].get("items") if listed[0] is not None else None, listed[1])
        label = f"the item of {step.foreach.text}"
    else:
        target = pipeline.step(ref.name)
        describe = describes.get(target.service)
        out = output_schema(describe) if describe is not None else None
        if out is not None and target.fan_out:
            typed = ({"type": "array", "items": out}, out)
        else:
            typed = (out, out or {})
        label = f"the output of step {ref.name!r}"
    for depth, name in enumerate(ref.path):
        typed = _field(typed, name, label if depth == 0 else f"{label} at {name!r}", ref)
    return typed


def _deref(typed: _Typed) -> _Typed:
    schema, root = typed
    return resolve_schema(schema, root) if schema is not None else (None, root)


def _field(typed: _Typed, name: str, label: str, ref: Ref) -> _Typed:
    schema, root = _deref(typed)
    if schema is None:
        return None, root
    kinds = _types((schema, root))
    if kinds == frozenset({"array"}):
        items = schema.get("items")
        if name.isdigit():
            return (items if isinstance(items, Mapping) else None), root
        inner, _ = _field((items if isinstance(items, Mapping) else None, root), name, label,
                          ref)
        return ({"type": "array", "items": inner} if inner is not None else None), root
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return None, root
    if name in properties:
        return properties[name], root
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        return extra, root
    raise _FieldFault(f"{ref.text}: {label} has no field {name!r} "
                      f"(fields: {', '.join(properties) or 'none'})")


def _types(typed: _Typed) -> frozenset[str] | None:
    """The JSON types a schema allows; None when it does not say."""
    schema, root = _deref(typed)
    if schema is None:
        return None
    if "type" in schema:
        kinds = schema["type"]
        return frozenset([kinds] if isinstance(kinds, str) else kinds)
    if "enum" in schema or "const" in schema:
        values = schema.get("enum", [schema.get("const")])
        return frozenset(_json_type(value) for value in values)
    alternatives = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(alternatives, list):
        found = [_types((alt, root)) for alt in alternatives]
        return None if any(kinds is None for kinds in found) else frozenset().union(*found)
    if "properties" in schema:
        return frozenset({"object"})
    if "items" in schema:
        return frozenset({"array"})
    return None


def _compatible(produced: _Typed, expected: _Typed, depth: int = 0) -> bool:
    given, wanted = _types(produced), _types(expected)
    if given is None or wanted is None:
        return True
    if len(given) > 1:
        given = given - {"null"}
    widened = given | ({"number"} if "integer" in given else set())
    if not widened & wanted:
        return False
    if depth < 3 and given == {"array"} and "array" in wanted:
        inner_given = _deref(produced)
        inner_wanted = _deref(expected)
        items_given = inner_given[0].get("items") if inner_given[0] is not None else None
        items_wanted = inner_wanted[0].get("items") if inner_wanted[0] is not None else None
        if isinstance(items_given, Mapping) and isinstance(items_wanted, Mapping):
            return _compatible((items_given, inner_given[1]), (items_wanted, inner_wanted[1]),
                               depth + 1)
    return True


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {float: "number", str: "string", list: "array", dict: "object",
            type(None): "null"}.get(type(value), "object")


_ARTICLES = {"array": "a list", "object": "an object", "integer": "an integer",
             "number": "a number", "string": "a string", "boolean": "a boolean", "null": "null"}
_PLURALS = {"array": "lists", "object": "objects", "integer": "integers", "number": "numbers",
            "string": "strings", "boolean": "booleans", "null": "nulls"}


def _named(kinds: frozenset[str] | None) -> str:
    if kinds is None:
        return "any value"
    return " or ".join(_ARTICLES.get(kind, kind) for kind in sorted(kinds))


def _described(typed: _Typed) -> str:
    """`a list of integers`, `an object`, ... for messages."""
    kinds = _types(typed)
    schema, root = _deref(typed)
    items = schema.get("items") if kinds == frozenset({"array"}) and schema else None
    inner = _types((items, root)) if isinstance(items, Mapping) else None
    if inner is None:
        return _named(kinds)
    return "a list of " + " or ".join(_PLURALS.get(kind, kind) for kind in sorted(inner))
