"""The bridge between JSON payloads and an algorithm's arguments and results.

A service's bundled input and output schemas say which values are images (`Image`, `Images`,
`ImageRef`, `ImageRefs`, or `anyOf` an Image and an ImageRef), as properties or nested in objects
and arrays (a list of tile results each holding an ImageRef). On the request path `check_inputs`
validates a payload, fills in schema defaults and refuses image locations the service may not
read, without opening any file. In the worker `resolve_inputs` reads the images into numpy arrays
(C, H, W), or `GeoImage`s for the parameters annotated so; an image whose schema says
`"x-pesto-read": "header"` arrives as an `ImageHeader` (size and georeferencing, no pixels).
`encode_outputs` writes the images an algorithm returns as COGs, or as PNGs for a property with
`"contentMediaType": "image/png"`, and answers with their `file://` URIs (by reference) or base64
(inline). An ImageRef's href may be a `data:` URI. A raw `application/octet-stream` body becomes
a payload holding a `RawImage`, whose bytes the worker reads as they are: no base64 round trip.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import math
import re
import tempfile
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import jsonschema
import numpy as np

from runtime.errors import AlgorithmFailed, BadRequest
from runtime.geoimage import GeoImage
from runtime.imageio import (
    GEOTIFF_MEDIA_TYPE,
    PNG_MEDIA_TYPE,
    ImageHeader,
    InputPolicy,
    check_base64,
    check_uri,
    encode_base64,
    header_of_bytes,
    is_data_uri,
    is_inline,
    read_bytes,
    read_header,
    read_image,
    read_image_ref,
    read_spooled,
    write_image,
    write_png,
)
from runtime.imageio.locations import (
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
    wants_png,
)

__all__ = [
    "EncodedOutputs",
    "OutputFile",
    "RawImage",
    "body_to_payload",
    "discard_spooled",
    "check_inputs",
    "encode_outputs",
    "georeferenced_parameters",
    "resolve_inputs",
]

_MAX_SHOWN = 80  # characters of a value quoted in an error message
_MAX_MESSAGE = 300
_SCHEMA_HINT = "the service's input schema is in its describe document (GET /api/v1/describe)"
_MISSING = object()


@dataclasses.dataclass(frozen=True, slots=True)
class RawImage:
    """An image file sent as a raw request body, read as such in the worker.

    Either its bytes, or (`path`) the file the service spooled them to: a large body then
    reaches the worker as a path instead of megabytes pushed through the job pipe. The worker
    removes a spooled file once read.
    """

    data: bytes = b""
    path: str | None = None

    def __repr__(self) -> str:
        return f"RawImage(<{self.path or f'{len(self.data)} bytes'}>)"

    def read_bytes(self) -> bytes:
        return Path(self.path).read_bytes() if self.path else self.data


@dataclasses.dataclass(frozen=True)
class OutputFile:
    """A file written for a job's result, kept with the job."""

    name: str
    path: Path
    media_type: str


class EncodedOutputs(NamedTuple):
    """The JSON answer of a job and the files written for it."""

    value: Any
    files: tuple[OutputFile, ...]


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
    for node in image_nodes(input_schema):
        for label, found in image_values(payload, node.path, ""):
            for field, value in split_list(label, node.kind, found):
                _check_location(value_type(node.kind, value), value, policy, field)


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


def body_to_payload(data: bytes, input_schema: dict, *,
                    spool_dir: Path | None = None) -> dict[str, Any]:
    """The payload of a raw image body: the service's one required image input, plus defaults."""
    if not data:
        raise BadRequest("the request body is empty: send the bytes of an image file")
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
    payload: dict[str, Any] = {images[0]: _raw_image(data, spool_dir)}
    _apply_defaults(payload, input_schema, definitions)
    return payload


# --- worker: inputs --------------------------------------------------------------------------
def resolve_inputs(
    payload: dict, input_schema: dict, policy: InputPolicy, *, georeferenced: set[str],
) -> dict[str, Any]:
    """The keyword arguments of `Process.process`: images read, other values as given."""
    kwargs = dict(payload)
    _apply_defaults(kwargs, input_schema, input_schema.get("definitions") or {})
    for node in image_nodes(input_schema):

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


def _raw_image(data: bytes, spool_dir: Path | None) -> RawImage:
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
    if node.header:
        return read_header(value, policy, field=field)
    if value_type(node.kind, value) == "ImageRef":
        return read_image_ref(value, policy, field=field)
    return read_image(value, policy, field=field)


# --- worker: outputs -------------------------------------------------------------------------
def encode_outputs(result: Any, output_schema: dict, out_dir: Path, *, inline: bool) -> EncodedOutputs:
    """The algorithm's return value as JSON; images written into `out_dir` as COGs (or PNGs).

    Nothing written stays behind when the result breaks the output schema (AlgorithmFailed).
    """
    encoder = _OutputEncoder(Path(out_dir).resolve(), inline=inline)
    try:
        value = encoder.encode(result, output_schema)
        error = _first_error(value, output_schema)
        if error is not None:
            pointer, field, fault = _describe(error)
            raise AlgorithmFailed(
                f"the algorithm's output {field!r} breaks the output schema at {pointer}: {fault}")
    except BaseException:
        encoder.discard()
        raise
    return EncodedOutputs(value, tuple(encoder.files))


class _OutputEncoder:
    """Writes image values as `<name>.tif` / `<name>_<i>.tif` (`.png` for image/png) and turns
    the rest into JSON."""

    def __init__(self, out_dir: Path, *, inline: bool) -> None:
        self.out_dir, self.inline = out_dir, inline
        self.files: list[OutputFile] = []

    def encode(self, result: Any, schema: dict) -> Any:
        kind = image_type(schema)
        if kind is not None:
            return self.images("output", kind, result, png=wants_png(schema))
        properties = schema.get("properties")
        if not isinstance(properties, dict):
            return _to_json(result, "output")
        mapping = _as_mapping(result)
        if mapping is None:
            raise AlgorithmFailed(
                f"the algorithm returned a {type(result).__name__}, but the output schema "
                f"expects an object with {', '.join(properties) or 'properties'}")
        encoded = {}
        for key, value in mapping.items():
            name = str(key)
            schema = properties.get(name) or {}
            kind = image_type(schema)
            encoded[name] = (self.images(name, kind, value, png=wants_png(schema)) if kind
                             else _to_json(value, name))
        return encoded

    def images(self, name: str, kind: str, value: Any, *, png: bool = False) -> Any:
        if kind not in LIST_OF:
            return self.image(name, kind, value, field=name, png=png)
        if not isinstance(value, (list, tuple)):
            raise AlgorithmFailed(
                f"output {name!r} must be a list of images ({kind}), not {type(value).__name__}")
        return [self.image(f"{name}_{i}", LIST_OF[kind], item, field=f"{name}[{i}]", png=png)
                for i, item in enumerate(value)]

    def image(self, stem: str, kind: str, value: Any, *, field: str, png: bool = False) -> Any:
        if not isinstance(value, (GeoImage, np.ndarray)):
            if value is None or isinstance(value, (str, dict)):
                return _to_json(value, field)  # already a URI, base64 or ImageRef: schema judges
            raise AlgorithmFailed(
                f"output {field!r} must be an image (GeoImage or numpy array) or a URI, "
                f"not {type(value).__name__}")
        suffix, write, media_type = ((".png", write_png, PNG_MEDIA_TYPE) if png
                                     else (".tif", write_image, GEOTIFF_MEDIA_TYPE))
        path = self.out_dir / f"{re.sub(r'[^A-Za-z0-9._-]', '_', stem)}{suffix}"
        try:
            write(value, path)
        except (TypeError, ValueError) as exc:
            raise AlgorithmFailed(f"output {field!r}: cannot write the image: {exc}") from exc
        self.files.append(OutputFile(name=stem, path=path, media_type=media_type))
        if kind == "ImageRef":
            return {"href": path.as_uri()}  # a reference even when inline is asked
        return encode_base64(path) if self.inline else path.as_uri()

    def discard(self) -> None:
        for file in self.files:
            file.path.unlink(missing_ok=True)
        self.files.clear()


def _as_mapping(result: Any) -> Mapping[str, Any] | None:
    """A dict, pydantic model or dataclass result as name -> value (values left as they are)."""
    if isinstance(result, Mapping):
        return result
    fields = getattr(type(result), "model_fields", None)
    if isinstance(fields, dict):
        return {name: getattr(result, name) for name in fields}
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    return None


def _to_json(value: Any, where: str) -> Any:
    """numpy scalars and arrays to JSON numbers and lists; NaN and infinities to null."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic):
        return _to_json(value.item(), where)
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biu" or (value.dtype.kind == "f" and np.isfinite(value).all()):
            return value.tolist()
        return _to_json(value.tolist(), where)
    if isinstance(value, Mapping):
        return {str(k): _to_json(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, GeoImage):
        raise AlgorithmFailed(
            f"output {where!r} is an image, but the output schema does not type it as "
            "Image, Images, ImageRef or ImageRefs")
    mapping = _as_mapping(value)
    if mapping is not None:
        return _to_json(dict(mapping), where)
    raise AlgorithmFailed(f"output {where!r}: a {type(value).__name__} cannot be written as JSON")


# --- schema helpers --------------------------------------------------------------------------
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


_VALIDATORS: dict[int, tuple[dict, jsonschema.Draft7Validator]] = {}


def _validator(schema: dict) -> jsonschema.Draft7Validator:
    """One validator per schema object: building one costs more than a small validation."""
    entry = _VALIDATORS.get(id(schema))
    if entry is None or entry[0] is not schema:
        if len(_VALIDATORS) > 64:
            _VALIDATORS.clear()
        entry = _VALIDATORS[id(schema)] = (schema, jsonschema.Draft7Validator(schema))
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
