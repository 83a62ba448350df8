"""The OpenAPI 3.0 definition of a service's OGC API (`GET /api`).

Paths are the standard's; request and response schemas point at the official OGC API -
Processes 1.0 schemas (schemas.opengis.net), so a client's generator reads the standard's types.
The geoprocessing API keeps its own definition at /api/v1/openapi.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pesto_factory.runtime.api.ogc.description import ProcessInfo

__all__ = ["OGC_SCHEMAS", "OPENAPI_MEDIA_TYPE", "openapi_document"]

OPENAPI_MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.0"
OGC_SCHEMAS = "https://schemas.opengis.net/ogcapi/processes/part1/1.0/openapi/schemas"
_JSON = "application/json"
_PROBLEM = "application/problem+json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"{OGC_SCHEMAS}/{name}.yaml"}


def _ok(description: str, schema: str, status: str = "200") -> dict[str, Any]:
    return {status: {"description": description,
                     "content": {_JSON: {"schema": _ref(schema)}}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): {"description": "an RFC 7807 problem",
                          "content": {_PROBLEM: {"schema": _ref("exception")}}}
            for status in statuses}


def _param(name: str, where: str, schema: dict[str, Any], *, required: bool = False,
           description: str = "") -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": schema,
            "description": description}


def openapi_document(base: str, process: ProcessInfo,
                     describe: Mapping[str, Any]) -> dict[str, Any]:
    process_id = _param("processId", "path", {"type": "string", "enum": [process.id]},
                        required=True)
    job_id = _param("jobId", "path", {"type": "string"}, required=True)
    prefer = _param("Prefer", "header", {"type": "string", "enum": ["respond-async"]},
                    description="respond-async: create a job and answer 201 at once")
    paths: dict[str, Any] = {
        "/": {"get": {"summary": "landing page", "operationId": "getLandingPage",
                      "responses": _ok("links to the API's resources", "landingPage")}},
        "/conformance": {"get": {"summary": "conformance classes",
                                 "operationId": "getConformanceClasses",
                                 "responses": _ok("the classes implemented", "confClasses")}},
        "/api": {"get": {"summary": "this document", "operationId": "getAPI",
                         "responses": {"200": {"description": "OpenAPI 3.0",
                                               "content": {OPENAPI_MEDIA_TYPE: {}}}}}},
        "/processes": {"get": {"summary": "processes", "operationId": "getProcesses",
                               "responses": _ok("the process list", "processList")}},
        "/processes/{processId}": {"get": {
            "summary": "process description", "operationId": "getProcessDescription",
            "parameters": [process_id],
            "responses": {**_ok("the process description", "process"), **_errors(404)}}},
        "/processes/{processId}/execution": {"post": {
            "summary": "execute the process", "operationId": "execute",
            "parameters": [process_id, prefer],
            "requestBody": {"required": True,
                            "content": {_JSON: {"schema": _ref("execute")}}},
            "responses": {
                **_ok("results (synchronous execution)", "results"),
                **_ok("the job created (Prefer: respond-async)", "statusInfo", "201"),
                "204": {"description": "response=raw by reference: the Link header"},
                **_errors(400, 403, 404, 413, 500, 503)},
            "callbacks": {"jobCompleted": {"{$request.body#/subscriber/successUri}": {
                "post": {"requestBody": {"content": {_JSON: {"schema": _ref("results")}}},
                         "responses": {"200": {"description": "received"}}}}}}}},
        "/jobs": {"get": {
            "summary": "jobs", "operationId": "getJobs",
            "parameters": [_param("status", "query", {"type": "array",
                                                      "items": _ref("statusCode")}),
                           _param("processID", "query", {"type": "array",
                                                         "items": {"type": "string"}}),
                           _param("limit", "query", {"type": "integer", "minimum": 1,
                                                     "maximum": 10000, "default": 100})],
            "responses": _ok("the job list", "jobList")}},
        "/jobs/{jobId}": {
            "get": {"summary": "status of a job", "operationId": "getStatus",
                    "parameters": [job_id],
                    "responses": {**_ok("its statusInfo", "statusInfo"), **_errors(404)}},
            "delete": {"summary": "dismiss a job", "operationId": "dismiss",
                       "parameters": [job_id],
                       "responses": {**_ok("its statusInfo, dismissed", "statusInfo"),
                                     **_errors(404)}}},
        "/jobs/{jobId}/results": {"get": {
            "summary": "results of a job", "operationId": "getResult",
            "parameters": [job_id],
            "responses": {**_ok("the results document", "results"),
                          **_errors(404, 500)}}},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": f"{describe.get('title', process.id)} (OGC API - Processes)",
                 "version": process.version,
                 "description": "OGC API - Processes - Part 1: Core, served beside the "
                                "geoprocessing-api 1.0 (/api/v1) from the same job engine."},
        "servers": [{"url": base}],
        "paths": paths,
    }
