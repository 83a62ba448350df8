"""Conductor adapter: task definitions and workflows generated from describe documents and
pipeline specs (`generate`), and the workers that run a service's tasks over REST (`worker`).

    task_defs = generate_task_defs(describes)            # one TaskDef per service
    workflow = generate_workflow(pipeline, describes)    # one WorkflowDef per pipeline

docs/conductor.md describes the generated JSON and how to run it on a Conductor server.
"""

from __future__ import annotations

from pesto_factory.adapters.conductor.generate import (
    GENERATOR,
    GenerationError,
    TaskSettings,
    generate_task_def,
    generate_task_defs,
    generate_workflow,
    generate_workflows,
    task_name,
)

__all__ = [
    "GENERATOR",
    "GenerationError",
    "TaskSettings",
    "generate_task_def",
    "generate_task_defs",
    "generate_workflow",
    "generate_workflows",
    "task_name",
]
