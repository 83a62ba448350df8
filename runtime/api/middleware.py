"""Plain ASGI middleware (no per-request task overhead): correlation id, body limit, metrics.

- X-Correlation-ID: taken from the request or made up, kept on `request.state`, echoed back.
- Bodies larger than PESTO_MAX_BODY_BYTES get 413 before the route reads them, whether the
  size is announced by Content-Length or only discovered while streaming.
- Every response is counted by method, route template and status, including the 500 of an
  unexpected error, which is answered here (with the correlation id) rather than by
  Starlette's outermost error middleware, which neither middleware would see.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from pesto_factory.runtime.api.errors import error_response
from pesto_factory.runtime.errors import PayloadTooLarge
from pesto_factory.runtime.metrics import ServiceMetrics

__all__ = ["RequestGuard"]

logger = logging.getLogger(__name__)


class RequestGuard:
    def __init__(self, app: Any, *, max_body_bytes: int, metrics: ServiceMetrics) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        correlation_id = headers.get(b"x-correlation-id", b"").decode("latin-1")[:200] \
            or str(uuid.uuid4())
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        status_holder: dict[str, Any] = {"status": 500, "started": False}

        async def send_with_id(message: dict) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"], status_holder["started"] = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      (b"x-correlation-id", correlation_id.encode("latin-1"))]
            await send(message)

        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await self._too_large(scope, receive, send_with_id, correlation_id)
        else:
            received = 0

            async def limited_receive() -> dict:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body:
                        raise PayloadTooLarge(self._too_large_message())
                return message

            try:
                await self.app(scope, limited_receive, send_with_id)
            except Exception:  # noqa: BLE001 - the one place an unexpected error becomes a 500
                logger.exception("unexpected error on %s %s", scope["method"], scope["path"])
                if not status_holder.get("started"):
                    status_holder["status"] = 500
                    response = error_response(500, "internal error",
                                              hint="see the service log for details",
                                              correlation_id=correlation_id)
                    await response(scope, receive, send_with_id)
        route = scope.get("route")
        path = getattr(route, "path", None) or "unmatched"
        self.metrics.request(scope["method"], path, status_holder["status"])

    def _too_large_message(self) -> str:
        return f"request body larger than {self.max_body} bytes (PESTO_MAX_BODY_BYTES)"

    async def _too_large(self, scope: dict, receive: Any, send: Any, correlation_id: str) -> None:
        response = error_response(413, self._too_large_message(),
                                  hint="pass large images by reference (file://, s3://, http://)",
                                  correlation_id=correlation_id)
        await response(scope, receive, send)
