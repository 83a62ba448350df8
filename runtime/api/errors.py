"""Every error leaves the service as a geoprocessing Error body, never as a traceback.

    {"message": ..., "hint": ..., "correlationId": ..., "timestamp": ...}

Domain errors (`PestoError`) carry their status; FastAPI's own (404 route, 405, bad request)
are translated; anything else is logged with its traceback and answered with a plain 500.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pesto_factory.runtime.errors import PestoError, ServiceBusy
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["error_headers", "error_response", "install_error_handlers"]

logger = logging.getLogger(__name__)


def error_response(status: int, message: str, *, hint: str | None = None,
                   correlation_id: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = {
        "message": message,
        "hint": hint or "",
        "correlationId": correlation_id or "",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _correlation_id(request: Request) -> str | None:
    return getattr(request.state, "correlation_id", None)


def error_headers(request: Request, exc: PestoError) -> dict[str, str]:
    """Headers an error answer carries (Retry-After, WWW-Authenticate); logs server faults.
    Shared with the OGC API's problem details."""
    headers = {}
    if isinstance(exc, ServiceBusy):
        headers["Retry-After"] = str(exc.retry_after)
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if exc.status_code >= 500:
        logger.warning("%s %s -> %d: %s", request.method, request.url.path, exc.status_code,
                       exc.message)
    return headers


async def _on_pesto_error(request: Request, exc: PestoError) -> JSONResponse:
    headers = error_headers(request, exc)
    return error_response(exc.status_code, exc.message, hint=exc.hint,
                          correlation_id=_correlation_id(request), headers=headers)


async def _on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 404:
        message = f"no such resource: {request.method} {request.url.path}"
    return error_response(exc.status_code, message, correlation_id=_correlation_id(request),
                          headers=getattr(exc, "headers", None))


async def _on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    where = "/".join(str(part) for part in first.get("loc", ()))
    return error_response(400, f"invalid request at {where}: {first.get('msg', 'invalid')}",
                          correlation_id=_correlation_id(request))


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal error", hint="see the service log for details",
                          correlation_id=_correlation_id(request))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PestoError, _on_pesto_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_unexpected)
