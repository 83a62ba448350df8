"""Inputs: checked on the request path (cheap, nothing opened), read in the worker."""

from __future__ import annotations

import inspect
import re
import tempfile
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pesto_factory.runtime.errors import BadRequest
from pesto_factory.runtime.geoimage import GeoImage
from pesto_factory.runtime.imageio import (
    ImageHeader,
    InputPolicy,
    check_base64,
    check_uri,
    header_of_bytes,
    is_data_uri,
    is_inline,
    read_bytes,
    read_header,
    read_image,
    read_image_ref,
    read_spooled,
)
from pesto_factory.runtime.imageio.egress import refused_hops_forbidden
from pesto_factory.runtime.imageio.locations import (
    EITHER,
    LIST_OF,
    ImageNode,
    deref,
    image_nodes,
    image_properties,
    image_type,
    image_values,
    replace_images,
    split_list,
    value_type,
)
from pesto_factory.runtime.payload.models import RawImage
from pesto_factory.runtime.payload.schemacheck import (
    _SCHEMA_HINT,
    _apply_defaults,
    _describe,
    _first_error,
    _stand_ins,
)


# --- request path ----------------------------------------------------------------------------
def check_inputs(payload: dict, input_schema: dict, policy: InputPolicy) -> None:
    """Validate `payload` and its image locations, cheaply; fills schema defaults in place."""
    if not isinstance(payload, dict):
        raise BadRequest(f"the input must be a JSON object, not {type(payload).__name__}",
                         hint=_SCHEMA_HINT)
    _apply_defaults(payload, input_schema, input_schema.get("definitions") or {})
    error = _first_error(_stand_ins(payload, image_properties(input_schema)), input_schema)
    if error is not None:
        pointer, field, fault = _describe(error)
        raise BadRequest(f"invalid input {field!r} at {pointer}: {fault}", hint=_SCHEMA_HINT)
    for node in _image_nodes(input_schema):
        for label, found in image_values(payload, node.path, ""):
            for field, value in split_list(label, node.kind, found):
                _check_location(value_type(node.kind, value), value, policy, field)


_NODES: dict[int, tuple[dict, list[ImageNode]]] = {}


def _image_nodes(schema: dict) -> list[ImageNode]:
    """image_nodes(schema), once per schema object: the request path asks on every call."""
    entry = _NODES.get(id(schema))
    if entry is None or entry[0] is not schema:
        if len(_NODES) > 64:
            _NODES.clear()
        entry = _NODES[id(schema)] = (schema, image_nodes(schema))
    return entry[1]


def _check_location(kind: str, value: Any, policy: InputPolicy, field: str) -> None:
    if isinstance(value, RawImage):
        return
    if kind == "ImageRef":
        href = value.get("href", "") if isinstance(value, Mapping) else ""
        if isinstance(href, str) and is_data_uri(href):
            check_base64(href, field=field)
        else:
            check_uri(href, policy, field=field)
    elif is_inline(value):
        check_base64(value, field=field)
    else:
        check_uri(value, policy, field=field)


def raw_body_input(input_schema: dict) -> str:
    """The input a raw image body fills: the one required image input, the others having
    defaults (BadRequest naming what is missing otherwise)."""
    properties = input_schema.get("properties") or {}
    required = [name for name in input_schema.get("required", []) if name in properties]
    images = [name for name in required
              if image_type(properties[name]) in ("Image", "ImageRef", EITHER)]
    if len(images) != 1:
        raise BadRequest(
            "a raw application/octet-stream body is only accepted by a service with exactly one "
            f"required image input; this one has {len(images)}"
            + (f" ({', '.join(images)})" if images else ""),
            hint="send a JSON body (application/json) following the input schema")
    definitions = input_schema.get("definitions") or {}
    others = [name for name in required if name != images[0]
              and "default" not in deref(properties[name], definitions)
              and "default" not in properties[name]]
    if others:
        raise BadRequest(
            f"a raw image body only carries {images[0]!r}, but this service also requires "
            f"{', '.join(others)}", hint="send a JSON body (application/json) with every input")
    return images[0]


def body_to_payload(data: bytes | Path, input_schema: dict, *,
                    spool_dir: Path | None = None) -> dict[str, Any]:
    """The payload of a raw image body: the service's one required image input, plus defaults.

    `data` is the body's bytes, or the file the service already streamed it to (spooled).
    """
    empty = data.stat().st_size == 0 if isinstance(data, Path) else not data
    if empty:
        raise BadRequest("the request body is empty: send the bytes of an image file")
    image = raw_body_input(input_schema)
    payload: dict[str, Any] = {image: _raw_image(data, spool_dir)}
    _apply_defaults(payload, input_schema, input_schema.get("definitions") or {})
    return payload



# --- worker: inputs --------------------------------------------------------------------------
def resolve_inputs(
    payload: dict, input_schema: dict, policy: InputPolicy, *, georeferenced: set[str],
) -> dict[str, Any]:
    """The keyword arguments of `Process.process`: images read, other values as given."""
    kwargs = dict(payload)
    _apply_defaults(kwargs, input_schema, input_schema.get("definitions") or {})
    for node in _image_nodes(input_schema):

        def read(value: Any, label: str, node: ImageNode = node) -> Any:
            if value is None:
                return None
            images = [_read(node, item, policy, field)
                      for field, item in split_list(label, node.kind, value)]
            if node.path[0] not in georeferenced:
                images = [getattr(image, "data", image) for image in images]  # headers stay
            return images if node.kind in LIST_OF else images[0]

        kwargs = replace_images(kwargs, node.path, "", read)
    return kwargs


def georeferenced_parameters(func: Callable[..., Any]) -> set[str]:
    """Parameters annotated `GeoImage` or `RefImage` (or list[GeoImage], GeoImage | None...):
    they get GeoImages (RefImages for ImageRefs); the others numpy arrays."""
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # an annotation naming something not importable here: read the text
        hints = {}
    found = set()
    for name, parameter in inspect.signature(func).parameters.items():
        if _mentions_geoimage(hints.get(name, parameter.annotation)):
            found.add(name)
    return found


def _mentions_geoimage(annotation: Any) -> bool:
    if isinstance(annotation, typing.ForwardRef):
        annotation = annotation.__forward_arg__
    if isinstance(annotation, str):
        return re.search(r"\b(GeoImage|RefImage)\b", annotation) is not None
    if isinstance(annotation, type) and issubclass(annotation, GeoImage):
        return True
    if getattr(annotation, "__name__", None) in ("GeoImage", "RefImage"):
        return True
    return any(_mentions_geoimage(arg) for arg in typing.get_args(annotation))


def discard_spooled(payload: dict) -> None:
    """Remove the spooled body of a payload that will never reach a worker (503, cancel)."""
    for value in payload.values():
        if isinstance(value, RawImage) and value.path:
            Path(value.path).unlink(missing_ok=True)


def _raw_image(data: bytes | Path, spool_dir: Path | None) -> RawImage:
    if isinstance(data, Path):
        return RawImage(path=str(data))
    if spool_dir is None:
        return RawImage(bytes(data))
    spool_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=spool_dir, prefix="body-", delete=False) as spooled:
        spooled.write(data)
    return RawImage(path=spooled.name)


def _read(node: ImageNode, value: Any, policy: InputPolicy, field: str) -> GeoImage | ImageHeader:
    if isinstance(value, RawImage):
        try:
            if node.header:
                return header_of_bytes(value.read_bytes(), field=field)
            if value.path:
                return read_spooled(value.path, field=field)
            return read_bytes(value.data, field=field)
        finally:
            if value.path:
                Path(value.path).unlink(missing_ok=True)
    with refused_hops_forbidden():
        if node.header:
            return read_header(value, policy, field=field)
        if value_type(node.kind, value) == "ImageRef":
            return read_image_ref(value, policy, field=field)
        return read_image(value, policy, field=field)


