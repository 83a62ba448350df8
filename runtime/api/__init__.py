"""The web layer: FastAPI routers over `pesto_factory.runtime.service.ProcessingService`."""
