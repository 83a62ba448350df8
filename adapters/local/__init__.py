"""The embedded runner: a pipeline run on one machine, with no orchestrator.

    summary = run_pipeline(load_pipeline("examples/pipelines/cloud_mask.yaml"),
                           {"scene": "scene.tif"}, output_dir=Path("run"))

Project services are started as local `pesto-runtime serve` processes on 127.0.0.1 (or given
as URLs), steps run in dependency order, fan-out items in parallel bounded by the cores, and
OUTPUT/summary.json records the run. `packager pipeline run` is its command line.
"""

from __future__ import annotations

from pesto_factory.adapters.local.engine import (
    PipelineEngine,
    RunObserver,
    StepCall,
    StepFailed,
    StepRecord,
)
from pesto_factory.adapters.local.run import RunFailed, cpu_count, run_pipeline
from pesto_factory.adapters.local.services import (
    LocalService,
    LocalServices,
    ServiceStartFailed,
    local_service,
    wait_healthy,
)
from pesto_factory.adapters.local.summary import (
    OBJECT_SCHEMES,
    SUMMARY_NAME,
    RunSummary,
    clear_previous_run,
    object_outputs,
    publish_outputs,
    write_summary,
)

__all__ = [
    "OBJECT_SCHEMES",
    "SUMMARY_NAME",
    "object_outputs",
    "LocalService",
    "LocalServices",
    "local_service",
    "wait_healthy",
    "PipelineEngine",
    "RunFailed",
    "RunObserver",
    "RunSummary",
    "ServiceStartFailed",
    "StepCall",
    "StepFailed",
    "StepRecord",
    "clear_previous_run",
    "cpu_count",
    "publish_outputs",
    "run_pipeline",
    "write_summary",
]
