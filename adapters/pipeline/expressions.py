"""`${...}` expressions: compiling them out of spec values, and resolving them in a run.

An expression is a whole string value `${root.field.field}`; the root is `inputs` (then the
input's name), a step id, or the item name of a `foreach` step. A string that holds `${` but is
not one whole expression is refused (no string templating: orchestrators differ on it).

Resolution reads fields with dots: on an object the field by name; on a list a number indexes it
and any other field is read from every item (so `${detect.mask}` of a fan-out step is the list
of its items' masks, in item order).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pesto_factory.adapters.pipeline.model import Ref, escape_token
from pesto_factory.schemas.errors import PestoError

__all__ = ["ExpressionError", "ResolutionError", "Scope", "compile_value", "map_refs",
           "parse_expression", "read_path", "resolve"]

_NAME = r"[A-Za-z][A-Za-z0-9_-]*"
_SEGMENT = r"[A-Za-z0-9_-]+"
_EXPRESSION = re.compile(r"^\$\{\s*(" + _NAME + r"(?:\." + _SEGMENT + r")*)\s*\}$")


class ExpressionError(ValueError):
    """A string that looks like an expression but is not a valid one (a spec fault)."""


class ResolutionError(PestoError):
    """An expression names a field a run's values do not have."""


def parse_expression(text: str, *, item: str | None = None) -> Ref | None:
    """The Ref of a whole-string expression; None for a plain string. `item` is the current
    foreach item name, if any (it wins over a step id of the same name: the loader forbids that).
    """
    if "${" not in text:
        return None
    match = _EXPRESSION.match(text)
    if match is None:
        raise ExpressionError(
            f"{text!r} is not an expression: write the whole value as ${{name.field...}} "
            "(names: letters, digits, '_', '-'; no text around it)")
    root, *path = match.group(1).split(".")
    if root == "inputs":
        if not path:
            raise ExpressionError(f"{text!r}: name the input, as in ${{inputs.scene}}")
        return Ref("input", path[0], tuple(path[1:]))
    if item is not None and root == item:
        return Ref("item", root, tuple(path))
    return Ref("step", root, tuple(path))


def compile_value(value: Any, *, item: str | None = None, pointer: str = "",
                  errors: list[tuple[str, str]] | None = None) -> Any:
    """A spec value with every expression string replaced by its Ref. Faults are appended to
    `errors` as (pointer, message) when given, raised as ExpressionError otherwise."""
    if isinstance(value, str):
        try:
            ref = parse_expression(value, item=item)
        except ExpressionError as exc:
            if errors is None:
                raise
            errors.append((pointer, str(exc)))
            return value
        return value if ref is None else ref
    if isinstance(value, Mapping):
        return {key: compile_value(sub, item=item, errors=errors,
                                   pointer=f"{pointer}/{escape_token(str(key))}")
                for key, sub in value.items()}
    if isinstance(value, list):
        return [compile_value(sub, item=item, pointer=f"{pointer}/{index}", errors=errors)
                for index, sub in enumerate(value)]
    return value


@dataclass(frozen=True)
class Scope:
    """The values expressions read during a run: inputs, finished steps' outputs (a fan-out
    step's is the list of its items' outputs), and the current items of foreach steps."""

    inputs: Mapping[str, Any]
    steps: Mapping[str, Any] = field(default_factory=dict)
    items: Mapping[str, Any] = field(default_factory=dict)

    def with_item(self, name: str, value: Any) -> Scope:
        return Scope(self.inputs, self.steps, {**self.items, name: value})


def map_refs(value: Any, function: Callable[[Ref], Any]) -> Any:
    """The compiled value with each Ref replaced by `function(ref)`: how a run resolves them,
    and how a generator writes them in its orchestrator's syntax."""
    if isinstance(value, Ref):
        return function(value)
    if isinstance(value, Mapping):
        return {key: map_refs(sub, function) for key, sub in value.items()}
    if isinstance(value, (list, tuple)):
        return [map_refs(sub, function) for sub in value]
    return value


def resolve(value: Any, scope: Scope) -> Any:
    """The compiled value with every Ref replaced by what it names in `scope`."""
    return map_refs(value, lambda ref: _resolve_ref(ref, scope))


def _resolve_ref(ref: Ref, scope: Scope) -> Any:
    table = {"input": scope.inputs, "step": scope.steps, "item": scope.items}[ref.kind]
    if ref.name not in table:
        what = {"input": "pipeline input", "step": "finished step", "item": "current item"}
        raise ResolutionError(f"{ref.text}: no {what[ref.kind]} named {ref.name!r}")
    return read_path(table[ref.name], ref.path, expression=ref.text)


def read_path(value: Any, path: tuple[str, ...], *, expression: str = "") -> Any:
    """Follow `path` into `value` (see the module docstring for lists)."""
    for depth, name in enumerate(path):
        if isinstance(value, list):
            if name.isdigit():
                index = int(name)
                if index >= len(value):
                    raise ResolutionError(f"{expression}: index {index} is out of range "
                                          f"(the list has {len(value)} items)")
                value = value[index]
                continue
            return [read_path(item, path[depth:], expression=expression) for item in value]
        if not isinstance(value, Mapping):
            raise ResolutionError(f"{expression}: cannot read field {name!r} of a "
                                  f"{_kind(value)} value")
        if name not in value:
            fields = ", ".join(map(str, value)) or "none"
            raise ResolutionError(f"{expression}: no field {name!r} (fields: {fields})")
        value = value[name]
    return value


def _kind(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string",
            type(None): "null"}.get(type(value), type(value).__name__)
