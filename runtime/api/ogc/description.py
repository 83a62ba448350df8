"""The OGC process description of a service, generated from its describe document.

A service is one process. Its id is the last part of the describe `name` (`pesto/tiling` ->
`tiling`). Inputs and outputs are the properties of the input and output JSON Schemas, each
turned into an OpenAPI 3.0 Schema Object, which is what OGC API - Processes 1.0 asks for:
`$ref`s to the shared definitions are inlined, `type: [x, "null"]` becomes `nullable`,
`const` an `enum`, and keywords OpenAPI 3.0 lacks (`$schema`, `x-pesto-*`, `if`, ...) are
dropped. Images are strings with the media type of what the service reads and writes:

    {"type": "string", "contentEncoding": "binary",
     "contentMediaType": "image/tiff; application=geotiff; profile=cloud-optimized"}

so OGC clients pass them by reference (`{"href": ...}`) or as base64 qualified values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pesto_factory.runtime.imageio.locations import LIST_OF, image_type, wants_png
from pesto_factory.runtime.imageio.writing import GEOTIFF_MEDIA_TYPE, PNG_MEDIA_TYPE

__all__ = ["EXECUTE_REL", "ImageOutput", "ProcessInfo", "oas_schema"]

EXECUTE_REL = "http://www.opengis.net/def/rel/ogc/1.0/execute"
_JSON = "application/json"
_MAX_DEPTH = 16
#: Keywords of an OpenAPI 3.0 Schema Object that are copied as they are.
_PLAIN = frozenset({
    "title", "description", "default", "enum", "format", "pattern", "multipleOf", "maximum",
    "minimum", "maxLength", "minLength", "maxItems", "minItems", "uniqueItems",
    "maxProperties", "minProperties", "required", "readOnly", "writeOnly", "deprecated",
    "contentMediaType", "contentEncoding", "nullable",
})
_NESTED = ("items", "not", "additionalProperties")
_LISTS = ("allOf", "anyOf", "oneOf")


def _image_schema(media: str, description: str | None = None) -> dict[str, Any]:
    schema = {"type": "string", "contentEncoding": "binary", "contentMediaType": media}
    if description:
        schema["description"] = description
    return schema


def oas_schema(schema: Any, definitions: Mapping[str, Any], depth: int = 0) -> dict[str, Any]:
    """`schema` (JSON Schema draft-07 with `#/definitions/...` refs) as an OpenAPI 3.0 Schema
    Object with the definitions inlined."""
    if not isinstance(schema, Mapping) or depth > _MAX_DEPTH:
        return {}
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/definitions/"):
        name = ref.removeprefix("#/definitions/")
        if name == "Image":
            media = schema.get("contentMediaType") or GEOTIFF_MEDIA_TYPE
            return _image_schema(media, schema.get("description"))
        target = oas_schema(definitions.get(name, {}), definitions, depth + 1)
        local = oas_schema({k: v for k, v in schema.items() if k != "$ref"}, definitions,
                           depth + 1)
        return {**target, **local}
    result: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type":
            result.update(_type(value))
        elif key == "properties" and isinstance(value, Mapping):
            result[key] = {name: oas_schema(item, definitions, depth + 1)
                           for name, item in value.items()}
        elif key in _NESTED and isinstance(value, Mapping):
            result[key] = oas_schema(value, definitions, depth + 1)
        elif key == "additionalProperties" and isinstance(value, bool):
            result[key] = value
        elif key in _LISTS and isinstance(value, list):
            result[key] = [oas_schema(item, definitions, depth + 1) for item in value]
        elif key == "const":
            result["enum"] = [value]
        elif key == "examples" and isinstance(value, list) and value:
            result["example"] = value[0]
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and _number(value):
            result["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            result[key] = True
        elif key in _PLAIN:
            result[key] = value
    if result.get("required") == []:
        del result["required"]
    return result


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _type(value: Any) -> dict[str, Any]:
    """draft-07 `type` (a name or a list, maybe with "null") as OpenAPI 3.0 keywords."""
    names = value if isinstance(value, list) else [value]
    real = [name for name in names if name != "null"]
    result: dict[str, Any] = {"nullable": True} if "null" in names else {}
    if len(real) == 1:
        result["type"] = real[0]
    elif real:
        result["oneOf"] = [{"type": name} for name in real]
    return result


@dataclass(frozen=True)
class ImageOutput:
    """An output that is an image (or a list of them), and the media type it is written in."""

    name: str
    kind: str  # Image, Images, ImageRef, ImageRefs, Image|ImageRef
    media_type: str

    @property
    def is_list(self) -> bool:
        return self.kind in LIST_OF


class ProcessInfo:
    """The process a service is, in OGC terms; built once from the describe document."""

    def __init__(self, describe: Mapping[str, Any]) -> None:
        self.describe = describe
        self.id = str(describe.get("name", "process")).rstrip("/").rsplit("/", 1)[-1]
        self.version = str(describe.get("version", "0.0.0"))
        self.input_schema: Mapping[str, Any] = describe.get("input") or {}
        output = describe.get("output") or {}
        content = (output.get("content") or {}).get(_JSON) or {}
        self.output_schema: Mapping[str, Any] = content.get("schema") or {}
        self.output_names = tuple(self.output_schema.get("properties") or {})
        self.images = {
            name: ImageOutput(name, kind, PNG_MEDIA_TYPE if wants_png(prop) else GEOTIFF_MEDIA_TYPE)
            for name, prop in (self.output_schema.get("properties") or {}).items()
            if (kind := image_type(prop)) is not None}

    def summary(self, base: str) -> dict[str, Any]:
        """The processSummary of /processes."""
        url = f"{base}/processes/{self.id}"
        summary: dict[str, Any] = {
            "id": self.id, "version": self.version,
            "title": self.describe.get("title", self.id),
            "description": self.describe.get("description", ""),
            "keywords": list(self.describe.get("keywords") or []),
            "jobControlOptions": ["sync-execute", "async-execute", "dismiss"],
            "outputTransmission": ["value", "reference"],
            "links": [
                {"href": url, "rel": "self", "type": _JSON, "title": "process description"},
                {"href": f"{url}/execution", "rel": EXECUTE_REL, "type": _JSON,
                 "title": "execute the process"},
            ],
        }
        metadata = [{"title": key, "role": key, "href": str(value)}
                    for key in ("organization", "email", "family")
                    if (value := self.describe.get(key))]
        if metadata:
            summary["metadata"] = metadata
        return summary

    def description(self, base: str) -> dict[str, Any]:
        """The process description of /processes/{id}: summary, inputs and outputs."""
        return {**self.summary(base), "inputs": self._inputs(), "outputs": self._outputs()}

    def _inputs(self) -> dict[str, Any]:
        definitions = self.input_schema.get("definitions") or {}
        required = set(self.input_schema.get("required") or ())
        inputs = {}
        for name, prop in (self.input_schema.get("properties") or {}).items():
            schema = oas_schema(prop, definitions)
            inputs[name] = {
                "title": prop.get("title") or name,
                "description": prop.get("description") or schema.get("description", ""),
                "minOccurs": 1 if name in required else 0, "maxOccurs": 1,
                "schema": schema}
        return inputs

    def _outputs(self) -> dict[str, Any]:
        definitions = self.output_schema.get("definitions") or {}
        outputs = {}
        for name, prop in (self.output_schema.get("properties") or {}).items():
            schema = oas_schema(prop, definitions)
            outputs[name] = {"title": prop.get("title") or name,
                             "description": prop.get("description")
                             or schema.get("description", ""),
                             "schema": schema}
        return outputs
