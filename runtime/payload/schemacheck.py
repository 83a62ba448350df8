"""JSON Schema helpers of the payload layer: validators (cached), defaults, and
error messages that name the field and quote values briefly.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import jsonschema
from pesto_factory.runtime.imageio.locations import (
    EITHER,
    deref,
)
from pesto_factory.runtime.payload.models import RawImage

_MAX_SHOWN = 80  # characters of a value quoted in an error message
_MAX_MESSAGE = 300
_SCHEMA_HINT = "the service's input schema is in its describe document (GET /api/v1/describe)"
_MISSING = object()


def _stand_ins(payload: dict, images: dict[str, str]) -> dict:
    """The payload to validate: each RawImage replaced by a value of its schema type."""
    if not any(isinstance(value, RawImage) for value in payload.values()):
        return payload
    stand_in = {"Image": "raw-body", EITHER: "raw-body", "ImageRef": {"href": "raw-body"}}
    return {name: stand_in.get(images.get(name, ""), value) if isinstance(value, RawImage)
            else value for name, value in payload.items()}


def _apply_defaults(instance: Any, schema: Any, definitions: dict, depth: int = 0) -> None:
    """Add each missing property that has a default, at every level of objects and arrays."""
    if depth > 16 or not isinstance(schema, dict):
        return
    schema = deref(schema, definitions)
    if isinstance(instance, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if not isinstance(sub, dict):
                continue
            if name in instance:
                _apply_defaults(instance[name], sub, definitions, depth + 1)
                continue
            default = sub.get("default", deref(sub, definitions).get("default", _MISSING))
            if default is not _MISSING:
                instance[name] = copy.deepcopy(default)
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for item in instance:
            _apply_defaults(item, schema["items"], definitions, depth + 1)


def _is_strict_integer(_checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


#: Draft 7 with integers that are integers: 3.0 is a number, not an integer (the draft's
#: "zero fractional part" rule lets a float reach an algorithm expecting an int).
_StrictValidator = jsonschema.validators.extend(
    jsonschema.Draft7Validator,
    type_checker=jsonschema.Draft7Validator.TYPE_CHECKER.redefine("integer", _is_strict_integer))

_VALIDATORS: dict[int, tuple[dict, jsonschema.Draft7Validator]] = {}


def _validator(schema: dict) -> jsonschema.Draft7Validator:
    """One validator per schema object: building one costs more than a small validation."""
    entry = _VALIDATORS.get(id(schema))
    if entry is None or entry[0] is not schema:
        if len(_VALIDATORS) > 64:
            _VALIDATORS.clear()
        entry = _VALIDATORS[id(schema)] = (schema, _StrictValidator(schema))
    return entry[1]


def _first_error(instance: Any, schema: dict) -> jsonschema.ValidationError | None:
    validator = _validator(schema)
    if validator.is_valid(instance):  # the common case, without collecting errors
        return None
    return jsonschema.exceptions.best_match(validator.iter_errors(instance))


def _describe(error: jsonschema.ValidationError) -> tuple[str, str, str]:
    """(JSON pointer, top-level field, fault) of a validation error, quoting values briefly."""
    path = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        path += [name for name in error.validator_value if name not in error.instance][:1]
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties") or {})
        patterns = list(error.schema.get("patternProperties") or {})
        path += [name for name in error.instance if name not in known
                 and not any(re.search(p, name) for p in patterns)][:1]
    pointer = "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path) or "/"
    field = str(path[0]) if path else "(the whole input)"
    fault = error.message
    shown = repr(error.instance)
    if len(shown) > _MAX_SHOWN and shown in fault:
        fault = fault.replace(shown, _brief(error.instance))
    if len(fault) > _MAX_MESSAGE:
        fault = fault[:_MAX_MESSAGE] + "..."
    return pointer, field, fault


def _brief(value: Any) -> str:
    if isinstance(value, str):
        return f"{value[:24]!r}... ({len(value)} characters)"
    if isinstance(value, dict):
        return f"an object with keys {', '.join(map(str, list(value)[:8]))}"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    return repr(value)[:_MAX_SHOWN] + "..."
