"""Dependencies shared by the routers, declared once as `Annotated` aliases."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from pesto_factory.runtime.errors import Unauthorized
from pesto_factory.runtime.service import ProcessingService

__all__ = ["Service", "require_token", "base_url"]


async def get_service(request: Request) -> ProcessingService:
    return request.app.state.service


Service = Annotated[ProcessingService, Depends(get_service)]


async def require_token(request: Request, service: Service) -> None:
    """When PESTO_API_TOKEN is set, every route but health needs `Authorization: Bearer <it>`."""
    expected = service.settings.api_token
    if not expected:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token", hint="send 'Authorization: Bearer <token>'")
    if not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise Unauthorized("invalid bearer token")


def base_url(request: Request, service: ProcessingService) -> str:
    """Where clients reach this service: PESTO_PUBLIC_URL, else the request's own host."""
    if service.settings.public_url:
        return service.settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")
