"""Errors of the OGC API as RFC 7807 problem details, with the OGC exception types.

    {"type": "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/no-such-job",
     "title": "no such job", "status": 404, "detail": "no job 'abc'", "instance": "/jobs/abc"}

The geoprocessing routes answer the geoprocessing Error body (`runtime/api/errors.py`); the OGC
routes use `OgcRoute`, whose handler turns the same domain errors into problem details, so one
`PestoError` reads right in either API. Types the standard names (no-such-process, no-such-job,
result-not-ready) are the OGC URIs; the others are this project's, under `PROBLEMS`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pesto_factory.runtime.api.errors import error_headers
from pesto_factory.runtime.errors import NotFound, PestoError
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["OGC_EXCEPTIONS", "PROBLEMS", "NoSuchJob", "NoSuchProcess", "OgcRoute",
           "ResultNotReady", "problem_response"]

logger = logging.getLogger(__name__)

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


def _from_pesto(request: Request, exc: PestoError) -> JSONResponse:
    return problem_response(exc.status_code, exc.message, hint=exc.hint,
                            type_=getattr(exc, "problem_type", None),
                            instance=request.url.path, headers=error_headers(request, exc))


def _from_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    where = "/".join(str(part) for part in first.get("loc", ()))
    return problem_response(400, f"invalid request at {where}: {first.get('msg', 'invalid')}",
                            instance=request.url.path)


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class OgcRoute(APIRoute):
    """A route whose errors, its dependencies' included, are answered as problem details."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except PestoError as exc:
                return _from_pesto(request, exc)
            except RequestValidationError as exc:
                return _from_validation(request, exc)
            except StarletteHTTPException as exc:
                detail = exc.detail if isinstance(exc.detail, str) else "request failed"
                return problem_response(exc.status_code, detail, instance=request.url.path,
                                        headers=getattr(exc, "headers", None))
            except Exception:
                logger.exception("unexpected error on %s %s", request.method, request.url.path)
                return problem_response(500, "internal error", instance=request.url.path,
                                        hint="see the service log for details")

        return guarded
