"""The OpenAPI documents a service serves, describing exactly what it accepts and answers.

FastAPI generates paths and parameters from the routes; this module completes each operation of
the geoprocessing API with what the route really does: its request body (the service's input
schema as JSON, or raw image bytes), every status it sends (400 for a malformed request, never
FastAPI's unused 422 validation body; 201 for a job; 403, 406, 409, 413, 422, 503, 504 where they
occur) and its media types (Prometheus text for /metrics, YAML for /openapi, image/tiff for an
image result). Routes not listed here keep what FastAPI generated, with the same error answers.

Two renderings of one description: `/api/v1/openapi.json` (FastAPI's, JSON) and
`/api/v1/openapi` (YAML, the geoprocessing-api spec's info, tags and component schemas around
the same paths: the spec's "subset of this API with implemented services").
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pesto_factory.runtime.errors import BadRequest
from pesto_factory.runtime.metrics import CONTENT_TYPE as METRICS_TYPE
from pesto_factory.runtime.payload import raw_body_input
from pesto_factory.runtime.service import ProcessingService

__all__ = ["geoprocessing_document", "service_document"]

_SCHEMAS = "#/components/schemas/"
_ERROR_TEXT = {
    400: "Malformed request: body, query or header (the message names the field)",
    401: "Missing or invalid bearer token",
    403: "An input names a location the service may not read",
    404: "No such job or result",
    406: "The Accept header asks for what this service cannot send",
    409: "The job has no results (yet)",
    413: "Request body or input image over the service's limits",
    422: "Well-formed input the algorithm cannot process (unreadable image, band out of range)",
    500: "The algorithm failed, or an internal error",
    503: "Busy (Retry-After) or the algorithm cannot start",
    504: "The job exceeded PESTO_JOB_TIMEOUT",
}
_PROCESS_ERRORS = (400, 403, 413, 422, 500, 503)


@lru_cache(maxsize=1)
def geoprocessing_spec() -> dict[str, Any]:
    """The geoprocessing-api 1.0 spec shipped with the runtime (read once)."""
    text = resources.files("pesto_factory.runtime").joinpath(
        "openapi/api_geo_process.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _SCHEMAS + name}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _binary(*media_types: str) -> dict[str, Any]:
    return {media: {"schema": {"type": "string", "format": "binary"}} for media in media_types}


def _errors(statuses: Iterable[int]) -> dict[str, Any]:
    return {str(status): {"description": _ERROR_TEXT[status], "content": _json(_ref("Error"))}
            for status in statuses}


def _created() -> dict[str, Any]:
    return {"description": "Job accepted: its status, and where to poll it",
            "headers": {"Location": {"description": "The job's status URL",
                                     "schema": {"type": "string"}}},
            "content": _json(_ref("Status"))}


def _ok(content: dict[str, Any], description: str = "Success") -> dict[str, Any]:
    return {"description": description, "content": content}


def _operations(service: ProcessingService) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (method, path): the responses it sends and, for POSTs, its request body."""
    process_body: dict[str, Any] = _json(_ref("ProcessInput"))
    if _raw_body_accepted(service):
        process_body.update(_binary("application/octet-stream"))
    request_body = {"required": True, "description": "The inputs, following the input schema "
                    "of GET /api/v1/describe (or the raw bytes of the one image input)",
                    "content": process_body}
    sync_content = _json(_ref("ProcessOutput"))
    if service.single_image_output:
        sync_content.update(_binary("image/tiff"))
    outputs = {"name": "outputs", "in": "query", "required": False,
               "description": "image outputs as file:// references, or inline as base64",
               "schema": {"enum": ["reference", "inline"], "default": "reference"}}
    prefer = {"name": "Prefer", "in": "header", "required": False,
              "description": "respond-async: run as a job (201), as POST /jobs does",
              "schema": {"type": "string"}}
    api = "/api/v1"
    return {
        ("post", f"{api}/process"): {
            "requestBody": request_body, "parameters": [outputs, prefer],
            "responses": {"200": _ok(sync_content, "The outputs (synchronous call)"),
                          "201": _created(), **_errors((*_PROCESS_ERRORS, 406, 504))}},
        ("post", f"{api}/jobs"): {
            "requestBody": request_body, "parameters": [outputs],
            "responses": {"201": _created(), **_errors(_PROCESS_ERRORS)}},
        ("get", f"{api}/jobs"): {
            "responses": {"200": _ok(_json({"type": "array", "items": _ref("Status")})),
                          **_errors((400,))}},
        ("get", f"{api}/jobs/{{job_id}}/status"): {
            "responses": {"200": _ok(_json(_ref("Status"))), **_errors((404,))}},
        ("get", f"{api}/jobs/{{job_id}}/results"): {
            "responses": {"200": _ok(_json(_ref("JobResults"))), **_errors((404, 409))}},
        ("get", f"{api}/jobs/{{job_id}}/results/{{result_id}}"): {
            "responses": {"200": _ok({**_json({}), **_binary("image/tiff", "image/png")}),
                          **_errors((404, 409))}},
        ("delete", f"{api}/jobs/{{job_id}}"): {
            "responses": {"204": {"description": "Cancelled, or forgotten with its results"},
                          **_errors((404,))}},
        ("get", f"{api}/describe"): {
            "responses": {"200": _ok(_json(_ref("Describe")))}},
        ("get", f"{api}/version"): {
            "responses": {"200": _ok(_json({"type": "object", "required": ["version"]}))}},
        ("get", f"{api}/config"): {"responses": {"200": _ok(_json(_ref("Config")))}},
        ("get", f"{api}/openapi"): {
            "responses": {"200": _ok({"application/yaml": {"schema": {"type": "object"}}},
                                     "This document, in YAML")}},
        ("get", f"{api}/metrics"): {
            "responses": {"200": _ok({METRICS_TYPE.split(";")[0]: {"schema": {"type": "string"}}},
                                     "Prometheus text exposition")}},
        ("get", f"{api}/health"): {
            "responses": {"200": _ok({"text/plain": {"schema": {"const": "OK"}}}),
                          "503": _ok({"text/plain": {"schema": {"type": "string"}}},
                                     "Starting, or why the algorithm cannot run")}},
    }


def _raw_body_accepted(service: ProcessingService) -> bool:
    try:
        raw_body_input(service.input_schema)
    except BadRequest:
        return False
    return True


def _hoist(schema: dict[str, Any], name: str, components: dict[str, Any]) -> None:
    """Put a bundled JSON Schema into `components` as `name`, its definitions beside it and
    every `#/definitions/X` pointing there (a name taken by a different schema gets a prefix)."""
    schema = copy.deepcopy(schema)
    renames: dict[str, str] = {}
    for key, definition in (schema.pop("definitions", None) or {}).items():
        target = key if components.get(key, definition) == definition else f"{name}{key}"
        renames[key] = target
        components[target] = definition
    schema.pop("$schema", None)
    components[name] = schema
    for target in {name, *renames.values()}:
        components[target] = _rewrite_refs(components[target], renames)


def _rewrite_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            key = ref.removeprefix("#/definitions/")
            node = {**node, "$ref": _SCHEMAS + renames.get(key, key)}
        return {k: _rewrite_refs(v, renames) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(item, renames) for item in node]
    return node


def service_document(app: FastAPI, service: ProcessingService) -> dict[str, Any]:
    """The service's OpenAPI 3.1 document: FastAPI's paths, completed operation by operation."""
    document = get_openapi(title=app.title, version=app.version, description=app.description,
                           routes=app.routes)
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for drop in ("HTTPValidationError", "ValidationError"):
        components.pop(drop, None)
    spec_schemas = geoprocessing_spec()["components"]["schemas"]
    for name in ("Describe", "Resources", "Output", "MediaTypeObject", "Links", "Config",
                 "Status", "JobResults", "Result", "Reference", "ReferenceMethod", "Error"):
        components[name] = copy.deepcopy(spec_schemas[name])
    _hoist(service.input_schema, "ProcessInput", components)
    _hoist(service.project.output_schema, "ProcessOutput", components)
    known = _operations(service)
    token = bool(service.settings.api_token)
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            _complete(operation, known.get((method, path)), token=token and path != "/api/v1/health")
    if token:
        document["components"]["securitySchemes"] = {"BearerAuth": {"type": "http",
                                                                    "scheme": "bearer"}}
    return document


def _complete(operation: dict[str, Any], facts: dict[str, Any] | None, *, token: bool) -> None:
    responses = operation.setdefault("responses", {})
    if facts is not None:
        responses.clear()
        responses.update(copy.deepcopy(facts["responses"]))
        for key in ("requestBody", "parameters"):
            if key in facts:
                operation[key] = copy.deepcopy(facts[key])
    elif "422" in responses:  # FastAPI's validation body: this service answers 400 instead
        del responses["422"]
    if operation.get("parameters") or "requestBody" in operation:
        responses.setdefault("400", _errors((400,))["400"])
    if "requestBody" in operation:
        responses.setdefault("413", _errors((413,))["413"])
    if token:
        responses.update(_errors((401,)))
        operation["security"] = [{"BearerAuth": []}]
    responses.setdefault("500", _errors((500,))["500"])


def geoprocessing_document(document: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The same description under the geoprocessing spec's info, tags and external docs."""
    spec = geoprocessing_spec()
    info = {**spec["info"], "title": document["info"]["title"],
            "version": document["info"]["version"]}
    return {"openapi": document["openapi"], "info": info,
            "externalDocs": spec.get("externalDocs"), "servers": [{"url": base_url}],
            "paths": document["paths"], "components": document["components"]}
