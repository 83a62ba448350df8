"""Reading a project's JSON files: profiles, precise parse errors, schema errors with pointers.

A profile `P` of a file `name.json` is a sibling `name.P.json` deep-merged over it: nested objects
are merged key by key, every other value (lists included) is replaced by the profile's. Profiles
apply in the order given, so `-p dl gpu` lets `gpu` override `dl`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema
from pesto_factory import schemas
from pesto_factory.runtime.errors import ProjectError

__all__ = ["deep_merge", "read_json", "read_with_profiles", "validate_against", "known_profiles"]


def deep_merge(base: Any, overlay: Any) -> Any:
    """`overlay` merged over `base`: objects recursively, anything else replaced."""
    if isinstance(base, Mapping) and isinstance(overlay, Mapping):
        merged = dict(base)
        for key, value in overlay.items():
            merged[key] = deep_merge(base[key], value) if key in base else value
        return merged
    return overlay


def read_json(path: Path) -> Any:
    """Parse a JSON file; a syntax error names the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProjectError("file not found", path=str(path)) from None
    except OSError as exc:
        raise ProjectError(f"cannot read file: {exc.strerror}", path=str(path)) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProjectError(
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", path=str(path)
        ) from None


def profile_path(path: Path, profile: str) -> Path:
    return path.with_name(f"{path.stem}.{profile}{path.suffix}")


def read_with_profiles(path: Path, profiles: Sequence[str], *, required: bool = True) -> Any:
    """The file with each existing `file.P.json` merged over it, in profile order."""
    if not path.exists() and not required:
        value: Any = None
    else:
        value = read_json(path)
    for profile in profiles:
        overlay_path = profile_path(path, profile)
        if overlay_path.exists():
            overlay = read_json(overlay_path)
            value = overlay if value is None else deep_merge(value, overlay)
    return value


def known_profiles(*folders: Path) -> set[str]:
    """Profiles that have at least one `name.P.json` file in the given folders."""
    found: set[str] = set()
    for folder in folders:
        for path in folder.glob("*.*.json"):
            found.add(path.name.split(".")[-2])
    return found


def validate_against(document: Any, schema_name: str, *, path: Path | str) -> None:
    """Validate with a schema from schemas/; the first error names the file and JSON pointer."""
    schema = schemas.load_schema(schema_name)
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        error = jsonschema.exceptions.best_match(errors)
        pointer = "".join(f"/{part}" for part in error.absolute_path)
        raise ProjectError(error.message, path=str(path), pointer=pointer)
