"""`run_pipeline`: the embedded runner, a whole pipeline run on one machine.

1. Check the run's inputs against the spec (before anything starts).
2. Start each project service as a local `pesto-runtime serve` (or use the URL given for it);
   the service of a fan-out step gets one worker per core.
3. Read every service's describe document and type-check the spec against them.
4. Run the steps (`pesto_factory.adapters.local.engine`), calling services with synchronous
   `POST /process`: its answer carries image outputs by reference (file:// URIs), which is
   what the next step reads; the async results route serves images as bytes. The thread pool
   bounds the calls in flight; a 503/429 (queue full) is retried after its Retry-After.
   A service given as an OGC API - Processes process URL (`.../processes/ID`, any OGC
   server) is executed through that API instead (`OgcProcessClient`, docs/ogc.md).
5. Write summary.json, publish the final images (mask.tif, ...), stop the services.

With a run-level output location in the store (`output_store`, or the spec's `output:`,
s3://bucket/run-id/), every service writes its images there and reads only through it; the
summary lists the s3:// outputs (the local folder keeps summary.json and the logs).

The embedded runner is for one machine; at scale the same spec drives Conductor or Airflow.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pesto_factory.adapters.client import (
    OgcProcessClient,
    ReplicaSet,
    ServiceClient,
    ServiceError,
    call_with_retries,
    is_process_url,
)
from pesto_factory.adapters.local.engine import PipelineEngine, RunObserver, StepFailed, StepRecord
from pesto_factory.adapters.local.services import LocalServices, profiles_for
from pesto_factory.adapters.local.summary import (
    OBJECT_SCHEMES,
    SUMMARY_NAME,
    RunSummary,
    clear_previous_run,
    object_outputs,
    publish_outputs,
    write_summary,
)
from pesto_factory.adapters.pipeline import (
    Pipeline,
    Step,
    bind_inputs,
    check_types,
    collect_describes,
)
from pesto_factory.schemas.errors import PestoError

__all__ = ["RunFailed", "cpu_count", "run_pipeline"]

log = logging.getLogger(__name__)

_BUSY_ATTEMPTS = 8


class RunFailed(PestoError):
    """A run that did not succeed; its summary.json says FAILED and why. `step` and `item`
    name where it failed when a step did."""

    def __init__(self, message: str, *, step: str | None = None, item: int | None = None,
                 summary: Path | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint or (f"run summary: {summary}" if summary else None))
        self.step = step
        self.item = item
        self.summary = summary


def cpu_count() -> int:
    """Cores this process may use (affinity and container limits aside, os.cpu_count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def run_pipeline(pipeline: Pipeline, inputs: Mapping[str, Any], *, output_dir: Path,
                 service_urls: Mapping[str, str] | None = None,
                 profiles: Mapping[str, Sequence[str]] | None = None,
                 parallel: int | None = None, token: str | None = None,
                 start_timeout: float = 120.0, process_timeout: float | None = 3660.0,
                 observer: RunObserver | None = None,
                 output_store: str | None = None) -> RunSummary:
    """Run `pipeline` once; the SUCCEEDED summary, or RunFailed (summary.json written either
    way once the output folder exists). `service_urls` name already running services;
    `output_store` (default: the spec's `output`) is where started services write images."""
    output_store = output_store or pipeline.output
    if output_store and not output_store.startswith(OBJECT_SCHEMES):
        raise RunFailed(f"output location {output_store!r} is not an object store prefix",
                        hint="give s3://bucket/run-id/ (or gs://), or a local folder")
    service_urls = dict(service_urls or {})
    profiles = dict(profiles or {})
    _check_names(pipeline, service_urls, profiles)
    bound = bind_inputs(pipeline, inputs)
    parallel = parallel or cpu_count()
    output_dir = Path(output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    clear_previous_run(output_dir)
    base = RunSummary(pipeline=pipeline.name, status="RUNNING", inputs=bound,
                      spec=str(pipeline.source.resolve()) if pipeline.source else None,
                      output_dir=output_dir, store=output_store)
    write_summary(base, output_dir)
    started = time.monotonic()
    engine: PipelineEngine | None = None
    services_info: dict[str, Any] = {}
    try:
        with LocalServices(output_dir, input_roots=_input_roots(bound),
                           all_services=list(pipeline.services),
                           start_timeout=start_timeout, output_store=output_store) as local:
            urls = _start_services(pipeline, local, service_urls, profiles, parallel, observer)
            services_info = _services_info(pipeline, local, urls, output_dir)
            clients = {name: _client(url, token=token if name in service_urls else None,
                                     process_timeout=process_timeout)
                       for name, url in urls.items()}
            try:
                # OGC processes have no describe document: their steps are not type-checked
                described = {name: ref for name, ref in pipeline.services.items()
                             if not is_process_url(urls[name])}
                check_types(pipeline, collect_describes(
                    described, urls={name: urls[name].split(",")[0] for name in described},
                    tokens={name: token for name in service_urls if token}))
                engine = PipelineEngine(pipeline, _caller(clients), parallel=parallel,
                                        observer=observer)
                outputs = engine.run(bound)
            finally:
                for name, client in clients.items():
                    if isinstance(client, ReplicaSet):  # how the calls were spread
                        services_info[name]["replicas"] = dict(client.split())
                        services_info[name]["resent"] = client.resent
                for client in clients.values():
                    client.close()
            files = (object_outputs(outputs) if output_store
                     else publish_outputs(outputs, output_dir))
    except BaseException as exc:
        error = _error(exc)
        write_summary(_with(base, "FAILED", engine, pipeline, started, services_info,
                            error=error), output_dir)
        if not isinstance(exc, Exception):  # Ctrl-C: recorded, and it goes on up
            raise
        raise RunFailed(error["message"], step=error.get("step"), item=error.get("item"),
                        summary=output_dir / SUMMARY_NAME) from exc
    summary = _with(base, "SUCCEEDED", engine, pipeline, started, services_info,
                    outputs=outputs, files=files)
    write_summary(summary, output_dir)
    return summary


def _check_names(pipeline: Pipeline, urls: Mapping[str, str],
                 profiles: Mapping[str, Sequence[str]]) -> None:
    for option, names in (("--service", urls), ("--profile", profiles)):
        for name in names:
            if name not in pipeline.services:
                raise RunFailed(f"{option} {name}: pipeline {pipeline.name!r} has no service "
                                f"{name!r} (services: {', '.join(pipeline.services)})")
    for name, ref in pipeline.services.items():
        if ref.kind == "image" and name not in urls:
            raise RunFailed(f"service {name!r} is the image {ref.image}: the embedded runner "
                            "starts project folders only",
                            hint=f"run the image and give --service {name}=http://HOST:PORT")


def _start_services(pipeline: Pipeline, local: LocalServices, urls: Mapping[str, str],
                    profiles: Mapping[str, Sequence[str]], parallel: int,
                    observer: RunObserver | None) -> dict[str, str]:
    fan_out = {step.service for step in pipeline.steps if step.fan_out}
    result: dict[str, str] = {}
    for name, ref in pipeline.services.items():
        if name in urls:
            result[name] = urls[name]
        elif ref.kind == "url":
            result[name] = str(ref.url)
        else:
            assert ref.project is not None
            local.start(name, ref.project, profiles=profiles_for(name, ref.profiles, profiles),
                        workers=parallel if name in fan_out else 1)
    if local.services and observer is not None:
        observer.note(f"starting {', '.join(local.services)} on 127.0.0.1")
    result.update({name: service.url for name, service in local.wait_ready().items()})
    return result


def _services_info(pipeline: Pipeline, local: LocalServices, urls: Mapping[str, str],
                   output_dir: Path) -> dict[str, Any]:
    info: dict[str, Any] = {}
    for name in pipeline.services:
        service = local.services.get(name)
        entry: dict[str, Any] = {"url": urls.get(name)}
        if service is not None:
            entry.update(project=str(service.project), profiles=list(service.profiles),
                         workers=service.workers,
                         log=str(service.log.relative_to(output_dir)))
        info[name] = entry
    return info


def _client(url: str, *, token: str | None,
            process_timeout: float | None) -> ServiceClient | OgcProcessClient | ReplicaSet:
    """A geoprocessing service's client, an OGC process's for a `.../processes/ID` URL, or a
    replica set for replicas given as comma-separated URLs (`--service NAME=URL1,URL2`)."""
    if "," in url:
        return ReplicaSet([u.strip() for u in url.split(",") if u.strip()], token=token,
                          process_timeout=process_timeout)
    kind = OgcProcessClient if is_process_url(url) else ServiceClient
    return kind(url, token=token, process_timeout=process_timeout)


def _caller(clients: Mapping[str, ServiceClient | OgcProcessClient | ReplicaSet]):
    def call(step: Step, inputs: dict[str, Any]) -> dict[str, Any]:
        client = clients[step.service]
        return call_with_retries(lambda: client.process(inputs), attempts=_BUSY_ATTEMPTS,
                                 when=_busy)
    return call


def _busy(error: ServiceError) -> bool:
    """Only a full queue is worth another try here: an algorithm that failed on this input
    fails again (orchestrators, with their own retry policies, use `is_retryable`)."""
    return error.status_code in (429, 503)


def _input_roots(inputs: Mapping[str, Any]) -> list[Path]:
    """Folders of the local files the inputs name (file:// URIs, also inside ImageRefs)."""
    roots: list[Path] = []

    def visit(value: Any) -> None:
        if isinstance(value, str) and value.startswith("file://"):
            folder = Path(unquote(urlparse(value).path)).parent
            if folder not in roots:
                roots.append(folder)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    visit(dict(inputs))
    return roots


def _error(exc: BaseException) -> dict[str, Any]:
    """The summary's error entry: message, and the step and item when a step failed."""
    if isinstance(exc, KeyboardInterrupt):
        return {"message": "interrupted"}
    if isinstance(exc, StepFailed):
        return {"message": exc.message, "step": exc.step_id, "item": exc.item,
                "service": exc.service}
    if isinstance(exc, PestoError):
        return {"message": exc.message}
    return {"message": f"unexpected {type(exc).__name__}: {exc}"}


def _with(base: RunSummary, status: str, engine: PipelineEngine | None, pipeline: Pipeline,
          started: float, services: Mapping[str, Any], *, outputs: Mapping[str, Any] | None = None,
          files: Mapping[str, Any] | None = None,
          error: Mapping[str, Any] | None = None) -> RunSummary:
    records: tuple[StepRecord, ...]
    if engine is not None:
        records = tuple(engine.records[step_id] for step_id in pipeline.order)
    else:
        records = tuple(StepRecord(step.id, step.service, "NOT_RUN")
                        for step in pipeline.ordered_steps())
    return RunSummary(pipeline=base.pipeline, status=status, inputs=base.inputs, steps=records,
                      outputs=dict(outputs or {}), files=dict(files or {}), services=services,
                      seconds=time.monotonic() - started, error=error, spec=base.spec,
                      output_dir=base.output_dir, store=base.store)
