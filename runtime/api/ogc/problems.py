"""Errors of the OGC API as RFC 7807 problem details, with the OGC exception types.

    {"type": "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/no-such-job",
     "title": "no such job", "status": 404, "detail": "no job 'abc'", "instance": "/jobs/abc"}

The geoprocessing routes answer the geoprocessing Error body (`runtime/api/errors.py`); the OGC
routes (`route.OgcRoute`) turn the same domain errors into problem details, so one `PestoError`
reads right in either API. Types the standard names (no-such-process, no-such-job,
result-not-ready) are the OGC URIs; the others are this project's, under `PROBLEMS`.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pesto_factory.runtime.api.errors import error_headers
from pesto_factory.runtime.errors import NotFound, PestoError

__all__ = ["OGC_EXCEPTIONS", "PROBLEMS", "NoSuchJob", "NoSuchProcess", "ResultNotReady",
           "problem_from_error", "problem_response"]


OGC_EXCEPTIONS = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0"
#: This project's problem types, for failures the standard has no type for.
PROBLEMS = "https://pesto-factory.dev/problems"

_TYPES = {
    400: "invalid-parameter-value", 401: "unauthorized", 403: "forbidden",
    404: "not-found", 405: "method-not-allowed", 406: "not-acceptable", 409: "conflict",
    410: "gone", 413: "payload-too-large", 415: "unsupported-media-type",
    429: "too-many-requests", 500: "internal-error", 501: "not-implemented",
    502: "bad-gateway", 503: "service-busy", 504: "timeout",
}


class NoSuchProcess(NotFound):
    """The process id is not this service's process."""

    problem_type = f"{OGC_EXCEPTIONS}/no-such-process"


class NoSuchJob(NotFound):
    problem_type = f"{OGC_EXCEPTIONS}/no-such-job"


class ResultNotReady(NotFound):
    """The job has not finished: 404 with the OGC type, as the standard asks."""

    problem_type = f"{OGC_EXCEPTIONS}/result-not-ready"


def problem_type(status: int) -> str:
    return f"{PROBLEMS}/{_TYPES.get(status, 'error')}"


def problem_response(status: int, detail: str, *, type_: str | None = None,
                     title: str | None = None, instance: str | None = None,
                     hint: str | None = None,
                     headers: dict[str, str] | None = None) -> JSONResponse:
    """An `application/problem+json` answer."""
    kind = type_ or problem_type(status)
    body: dict[str, Any] = {"type": kind, "title": title or kind.rsplit("/", 1)[-1].replace("-", " "),
                            "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    if hint:
        body["hint"] = hint
    return JSONResponse(body, status_code=status, headers=headers,
                        media_type="application/problem+json")


def problem_from_error(request: Request, exc: PestoError) -> JSONResponse:
    return problem_response(exc.status_code, exc.message, hint=exc.hint,
                            type_=getattr(exc, "problem_type", None),
                            instance=request.url.path, headers=error_headers(request, exc))
