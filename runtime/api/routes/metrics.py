"""GET /metrics: Prometheus text exposition."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pesto_factory.runtime.api.deps import Service, require_token
from pesto_factory.runtime.metrics import CONTENT_TYPE

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["metrics"], dependencies=[Depends(require_token)])


@router.get("/metrics")
async def metrics(service: Service) -> Response:
    return Response(service.metrics.render(), media_type=CONTENT_TYPE)
