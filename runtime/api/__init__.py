"""The web layer: FastAPI routers over `runtime.service.ProcessingService`."""
