"""Assembles the FastAPI application of one service; nothing else happens here."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from pesto_factory.runtime.api.errors import install_error_handlers
from pesto_factory.runtime.api.middleware import RequestGuard
from pesto_factory.runtime.api.ogc import router as ogc_router
from pesto_factory.runtime.api.openapi import service_document
from pesto_factory.runtime.api.routes import jobs, metrics, process, service
from pesto_factory.runtime.project import ServiceProject
from pesto_factory.runtime.service import ProcessingService
from pesto_factory.runtime.settings import Settings, get_settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service app for `settings.service_dir`; workers start with the app's lifespan."""
    settings = settings or get_settings()
    project = ServiceProject.load(settings.service_dir, settings.profiles)
    processing = ProcessingService(project, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await processing.start()
        try:
            yield
        finally:
            await processing.stop()

    app = FastAPI(
        title=project.description["title"], version=project.version,
        description=project.description.get("description", ""), lifespan=lifespan,
        # FastAPI's own schema and docs pages cannot take the bearer-token dependency: they
        # are served only on an open service (the geoprocessing /openapi is always there).
        openapi_url=None if settings.api_token else "/api/v1/openapi.json",
        docs_url=None if settings.api_token else "/api/v1/docs", redoc_url=None)
    app.state.service = processing
    app.openapi = lambda: _cached_document(app, processing)  # type: ignore[method-assign]
    install_error_handlers(app)
    for module in (service, process, jobs, metrics):
        app.include_router(module.router)
    app.include_router(service.public_router)
    # OGC API - Processes at the root (docs/ogc.md); its routes are documented by its own
    # OpenAPI 3.0 document at /api, not in the geoprocessing one at /api/v1/openapi.json.
    app.include_router(ogc_router, include_in_schema=False)
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes,
                       metrics=processing.metrics)
    return app


def _cached_document(app: FastAPI, processing: ProcessingService) -> dict:
    """Built on first use, when every router is included."""
    if app.openapi_schema is None:
        app.openapi_schema = service_document(app, processing)
    return app.openapi_schema
