"""Validate answers against the official OGC API - Processes 1.0 schemas (tests/ogc/schemas/).

The schemas are OpenAPI 3.0 Schema Objects (a JSON Schema draft-04 dialect) in YAML files that
`$ref` each other by relative file name; they are loaded into one `referencing` registry under
their file names, so every `$ref` resolves locally, never over the network.

One reading is made explicit: the alternatives of an input or output *value*
(`inputValueNoObject.yaml`, `inputValue.yaml`) overlap (every string is also a
`binaryInputValue`, every integer also a `number`), so under JSON Schema's rules their `oneOf`
accepts no string and no integer at all, not even in the standard's own examples. Those two
`oneOf`s are read as `anyOf`, as their authors evidently meant; every other schema is applied
as written. `tests/ogc/test_schemas.py` checks the standard's examples pass this way.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

__all__ = ["SCHEMAS", "check", "errors"]

SCHEMAS = Path(__file__).parent / "schemas"


_OVERLAPPING = ("inputValueNoObject.yaml", "inputValue.yaml")


@cache
def _registry() -> Registry:
    resources = []
    for path in sorted(SCHEMAS.glob("*.yaml")):
        contents = yaml.safe_load(path.read_text(encoding="utf-8"))
        if path.name in _OVERLAPPING:
            contents = {"anyOf": contents.pop("oneOf"), **contents}
        resources.append((path.name, Resource.from_contents(contents, default_specification=DRAFT4)))
    return Registry().with_resources(resources)


@cache
def _validator(name: str) -> Draft4Validator:
    return Draft4Validator({"$ref": f"{name}.yaml"}, registry=_registry())


def errors(instance: Any, name: str) -> list[str]:
    """Every way `instance` fails the schema `name` (e.g. "statusInfo"), as readable lines."""
    found = sorted(_validator(name).iter_errors(instance), key=lambda e: list(e.absolute_path))
    lines = []
    for error in found:
        where = "/".join(str(part) for part in error.absolute_path) or "(root)"
        lines.append(f"{name} at {where}: {error.message[:300]}")
        for sub in (error.context or [])[:6]:
            sub_where = "/".join(str(part) for part in sub.absolute_path)
            lines.append(f"    - {sub_where}: {sub.message[:200]}")
    return lines


def check(instance: Any, name: str) -> Any:
    """Assert `instance` is valid against the OGC schema `name`; returns it."""
    problems = errors(instance, name)
    assert not problems, "\n".join(problems)
    return instance
