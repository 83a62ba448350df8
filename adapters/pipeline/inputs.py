"""A run's input values: parsed from `NAME=VALUE` words, checked against the declared types.

`parse_input_args` reads command-line words (`scene=data/crop.tif`, `tile_size=256`): a value
is JSON when it parses as JSON, except for inputs declared Image or string, which take the text
as it is. `bind_inputs` then refuses unknown names and missing required inputs, fills in the
defaults, checks each type, and turns local paths given for Image and ImageRef inputs into
`file://` URIs (the form every service reads).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pesto_factory.adapters.pipeline.model import Pipeline
from pesto_factory.schemas.errors import PestoError

__all__ = ["InputError", "bind_inputs", "parse_input_args"]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_INLINE_MIN = 1024  # a scheme-less string this long is inline base64, not a path
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (int,), "number": (int, float), "string": (str,), "boolean": (bool,),
    "object": (dict,), "array": (list,), "Image": (str,), "ImageRef": (dict,),
}


class InputError(PestoError):
    """A run input that is unknown, missing or of the wrong type; names the input."""

    status_code = 400


def parse_input_args(pipeline: Pipeline, words: Iterable[str]) -> dict[str, Any]:
    """`NAME=VALUE` words as a dict of values (not yet checked: see `bind_inputs`)."""
    values: dict[str, Any] = {}
    for word in words:
        name, sep, text = word.partition("=")
        if not sep or not name:
            raise InputError(f"--input {word!r}: expected NAME=VALUE")
        declared = pipeline.inputs.get(name)
        if declared is not None and declared.type in ("Image", "string"):
            values[name] = text
            continue
        try:
            values[name] = json.loads(text)
        except json.JSONDecodeError:
            values[name] = text
    return values


def bind_inputs(pipeline: Pipeline, given: Mapping[str, Any], *,
                base_dir: Path | None = None) -> dict[str, Any]:
    """The complete, checked inputs of a run (declared order); relative paths are resolved
    against `base_dir` (default: the current folder)."""
    unknown = [name for name in given if name not in pipeline.inputs]
    if unknown:
        known = ", ".join(pipeline.inputs) or "none"
        raise InputError(f"pipeline {pipeline.name!r} has no input {unknown[0]!r} "
                         f"(inputs: {known})")
    bound: dict[str, Any] = {}
    for name, declared in pipeline.inputs.items():
        if name not in given:
            if declared.required:
                raise InputError(f"input {name!r} ({declared.type}) is required",
                                 hint=f"give it: --input {name}=VALUE")
            bound[name] = declared.default
            continue
        value = given[name]
        if declared.type == "Image" and isinstance(value, str):
            value = _uri(name, value, base_dir)
        elif declared.type == "ImageRef":
            value = _image_ref(name, value, base_dir)
        _check_type(name, declared.type, value)
        bound[name] = value
    return bound


def _check_type(name: str, declared: str, value: Any) -> None:
    allowed = _PYTHON_TYPES[declared]
    if (isinstance(value, bool) and bool not in allowed) or not isinstance(value, allowed):
        raise InputError(f"input {name!r}: expected {declared}, got {value!r}"[:300])


def _uri(name: str, value: str, base_dir: Path | None) -> str:
    """A URI as it is; an existing local path as its file:// URI."""
    if _SCHEME.match(value) and not Path(value).exists():
        return value
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    if path.exists():
        return path.resolve().as_uri()
    if len(value) >= _INLINE_MIN:
        return value  # inline base64: the service judges it
    raise InputError(f"input {name!r}: no such file {str(path)!r}",
                     hint="give an existing file or a URI (file://, https://, s3://, ...)")


def _image_ref(name: str, value: Any, base_dir: Path | None) -> Any:
    if isinstance(value, str):
        return {"href": _uri(name, value, base_dir)}
    if isinstance(value, dict):
        if not isinstance(value.get("href"), str):
            raise InputError(f"input {name!r}: an ImageRef needs an 'href' string")
        return {**value, "href": _uri(name, value["href"], base_dir)}
    return value
