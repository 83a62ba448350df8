"""An OGC execute request, read into the payload the algorithm takes and how to answer.

    {"inputs": {"scene": {"href": "file:///data/s2.tif", "type": "image/tiff; ..."},
                "tile_size": 256},
     "outputs": {"mask": {"transmissionMode": "reference"}},
     "response": "document",
     "subscriber": {"successUri": "http://..."}}

Input values may be plain JSON values, qualified values (`{"value": ..., "mediaType": ...,
"encoding": "base64"}`: the value is taken) or links (`{"href": ...}`): a link to an image is the
image's URI (an Image input) or an ImageRef `{"href"}` (an ImageRef input). Outputs name which
outputs to return and how: `transmissionMode` value (images inline as base64) or reference
(images as links to where they were written, the default). Nothing here touches a file: the
payload then goes through the service's own checks (schema, URI policy) like any request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pesto_factory.runtime.api.ogc.description import ProcessInfo
from pesto_factory.runtime.errors import BadRequest
from pesto_factory.runtime.imageio.locations import EITHER, LIST_OF, image_type

__all__ = ["ExecuteRequest", "Subscriber", "parse_execute"]

_QUALIFIED = frozenset({"value", "mediaType", "encoding", "schema"})
_LINK = frozenset({"href", "rel", "type", "hreflang", "title", "length"})
_MODES = ("value", "reference")


@dataclass(frozen=True)
class Subscriber:
    """Callback URLs of an asynchronous job (the `callback` conformance class)."""

    success_uri: str | None = None
    in_progress_uri: str | None = None
    failed_uri: str | None = None

    def uris(self) -> tuple[str, ...]:
        return tuple(uri for uri in (self.success_uri, self.in_progress_uri, self.failed_uri)
                     if uri)


@dataclass(frozen=True)
class ExecuteRequest:
    """What to run (`payload`) and how to answer: the outputs asked for, in which mode each,
    raw or document, and who to call back."""

    payload: dict[str, Any]
    outputs: tuple[str, ...]
    modes: Mapping[str, str] = field(default_factory=dict)
    raw: bool = False
    subscriber: Subscriber | None = None

    def mode(self, name: str) -> str:
        return self.modes.get(name, "reference")

    @property
    def inline(self) -> bool:
        """Images inline (base64) when an image output is asked for by value (document only:
        a raw answer serves the file's bytes)."""
        return not self.raw and any(mode == "value" for mode in self.modes.values())


def parse_execute(body: Any, process: ProcessInfo) -> ExecuteRequest:
    """The execute request `body` (parsed JSON) of `process`; BadRequest naming the field."""
    if not isinstance(body, dict):
        raise BadRequest(f"an execute request is a JSON object, not {type(body).__name__}")
    unknown = set(body) - {"inputs", "outputs", "response", "subscriber", "mode"}
    if unknown:
        raise BadRequest(f"execute request: unknown member(s) {', '.join(sorted(unknown))}",
                         hint="members are inputs, outputs, response and subscriber")
    inputs = body.get("inputs") or {}
    if not isinstance(inputs, dict):
        raise BadRequest("execute request: 'inputs' must be an object of input id -> value")
    properties = process.input_schema.get("properties") or {}
    payload = {name: _input(name, value, properties.get(name) or {})
               for name, value in inputs.items()}
    outputs, modes = _outputs(body.get("outputs"), process)
    response = body.get("response", "document")
    if response not in ("document", "raw"):
        raise BadRequest(f"execute request: response={response!r}: expected 'document' or 'raw'")
    return ExecuteRequest(payload, outputs, modes, response == "raw",
                          _subscriber(body.get("subscriber")))


def _input(name: str, value: Any, schema: Mapping[str, Any]) -> Any:
    kind = image_type(schema)
    if isinstance(value, list):
        item_kind = LIST_OF.get(kind or "", kind)
        return [_one(f"{name}[{i}]", item, item_kind) for i, item in enumerate(value)]
    return _one(name, value, kind)


def _one(field_: str, value: Any, kind: str | None) -> Any:
    if not isinstance(value, dict):
        return value
    keys = set(value)
    if "value" in keys and keys <= _QUALIFIED:
        return value["value"]
    if "href" in keys and keys <= _LINK:
        href = value["href"]
        if not isinstance(href, str) or not href:
            raise BadRequest(f"input {field_!r}: href must be a non-empty string")
        if kind in ("Image", EITHER):
            return href
        if kind == "ImageRef":
            return {"href": href}
        raise BadRequest(f"input {field_!r}: only image inputs can be passed by reference",
                         hint="pass the value inline, or as a qualified value {\"value\": ...}")
    if "href" in keys and kind in ("ImageRef", EITHER):
        # an ImageRef answered as a link (window, margin beside href): back to an ImageRef
        return {key: item for key, item in value.items() if key == "href" or key not in _LINK}
    return value  # an object value given as it is


def _outputs(outputs: Any, process: ProcessInfo) -> tuple[tuple[str, ...], dict[str, str]]:
    if outputs is None or outputs == {}:
        return process.output_names, {}
    if not isinstance(outputs, dict):
        raise BadRequest("execute request: 'outputs' must be an object of output id -> options")
    modes: dict[str, str] = {}
    for name, options in outputs.items():
        if name not in process.output_names:
            raise BadRequest(f"execute request: no output {name!r}",
                             hint=f"outputs are: {', '.join(process.output_names)}")
        options = options or {}
        if not isinstance(options, dict):
            raise BadRequest(f"execute request: outputs.{name} must be an object")
        mode = options.get("transmissionMode", "reference")
        if mode not in _MODES:
            raise BadRequest(f"execute request: outputs.{name}.transmissionMode={mode!r}: "
                             "expected 'value' or 'reference'")
        if name in process.images:
            modes[name] = mode
    return tuple(outputs), modes


def _subscriber(value: Any) -> Subscriber | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest("execute request: 'subscriber' must be an object of callback URIs")
    uris = {}
    for key in ("successUri", "inProgressUri", "failedUri"):
        uri = value.get(key)
        if uri is not None and (not isinstance(uri, str) or not uri):
            raise BadRequest(f"execute request: subscriber.{key} must be a URI")
        uris[key] = uri
    return Subscriber(uris["successUri"], uris["inProgressUri"], uris["failedUri"])
