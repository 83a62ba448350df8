"""What every OGC route needs, built once per app: the service, its process, the callbacks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from pesto_factory.runtime.api.deps import Service, base_url
from pesto_factory.runtime.api.ogc.callbacks import Callbacks
from pesto_factory.runtime.api.ogc.description import ProcessInfo
from pesto_factory.runtime.api.ogc.job_requests import JobRequests
from pesto_factory.runtime.api.ogc.problems import NoSuchProcess
from pesto_factory.runtime.service import ProcessingService

__all__ = ["Ogc", "OgcContext"]


@dataclass(frozen=True)
class OgcContext:
    service: ProcessingService
    process: ProcessInfo
    callbacks: Callbacks
    requests: JobRequests  # what the client asked of each async job (outputs, raw)
    base: str  # the service's base URL: the OGC API's root

    def check_process(self, process_id: str) -> None:
        if process_id != self.process.id:
            raise NoSuchProcess(f"no process {process_id!r}",
                                hint=f"this service runs the process {self.process.id!r}")


async def get_context(request: Request, service: Service) -> OgcContext:
    state = request.app.state
    if getattr(state, "ogc_process", None) is None:
        state.ogc_process = ProcessInfo(service.describe)
        state.ogc_callbacks = Callbacks(service.policy)
        state.ogc_requests = JobRequests()
    return OgcContext(service, state.ogc_process, state.ogc_callbacks, state.ogc_requests,
                      base_url(request, service))


Ogc = Annotated[OgcContext, Depends(get_context)]
