"""The route class of the OGC API: problem details for errors, HTML pages for browsers.

Errors raised by a route or its dependencies are answered as RFC 7807 problem details
(`problems`), not as the geoprocessing Error body the app's handlers give; JSON answers of GET
routes are shown as HTML to a browser (`html`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pesto_factory.runtime.api.ogc.html import as_html, wants_html
from pesto_factory.runtime.api.ogc.problems import problem_from_error, problem_response
from pesto_factory.runtime.errors import PestoError
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["OgcRoute"]

logger = logging.getLogger(__name__)


def _from_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    where = "/".join(str(part) for part in first.get("loc", ()))
    return problem_response(400, f"invalid request at {where}: {first.get('msg', 'invalid')}",
                            instance=request.url.path)


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class OgcRoute(APIRoute):
    """A route whose errors, its dependencies' included, are answered as problem details,
    and whose JSON answers are shown as HTML pages to a browser."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                response = await handler(request)
                if request.method == "GET" and self.path != "/api" and wants_html(request):
                    return as_html(response, self.summary or self.path)
                return response
            except PestoError as exc:
                return problem_from_error(request, exc)
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
