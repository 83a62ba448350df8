"""`packager emit conductor`: Conductor task definitions and the workflow of a pipeline spec.

The describe documents come from the spec's project services (built with `pesto_factory.runtime.project`,
the profiles of the spec or of `-p`); the generator itself (`pesto_factory.adapters.conductor`) only reads
them as data. Files are written under temporary names and renamed, so a failed run leaves the
previous files in place.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from pesto_factory.packager.cli._common import console
from pesto_factory.packager.cli.pipeline import (
    OptionError,
    ProfileOption,
    SpecArgument,
    parse_service_profiles,
)

__all__ = ["NAME", "HELP", "command", "describes_of", "write_conductor",
           "write_conductor_files"]

NAME = "conductor"
HELP = ("Write Conductor task definitions (taskdefs.json) and the workflow "
        "(PIPELINE.workflow.json) of a pipeline spec.")


def describes_of(pipeline: Any, profiles: Mapping[str, list[str]]) -> dict[str, dict]:
    """The describe documents of the spec's services (`pipeline.describes_for`)."""
    from pesto_factory.packager.cli.pipeline import describes_for

    unknown = [name for name in profiles if name not in pipeline.services]
    if unknown:
        raise OptionError(f"--profile {unknown[0]}: no such service in the spec")
    return describes_for(pipeline, profiles=profiles)


def _write_json(path: Path, value: Any) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def write_conductor(pipeline: Any, describes: Mapping[str, Mapping[str, Any]],
                    out: Path) -> list[Path]:
    """Write `taskdefs.json` and `NAME.workflow.json` of a checked pipeline into `out`."""
    from pesto_factory.adapters.conductor import generate_task_defs, generate_workflow

    task_defs = generate_task_defs(describes)
    workflow = generate_workflow(pipeline, describes)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "taskdefs.json", out / f"{pipeline.name}.workflow.json"]
    _write_json(paths[0], task_defs)
    _write_json(paths[1], workflow)
    return paths


def write_conductor_files(spec: Path, out: Path, *,
                          profiles: Mapping[str, list[str]] | None = None) -> list[Path]:
    """Generate and write `taskdefs.json` and `NAME.workflow.json` into `out`."""
    from pesto_factory.adapters.pipeline import check_types, load_pipeline

    pipeline = load_pipeline(spec)
    describes = describes_of(pipeline, profiles or {})
    check_types(pipeline, describes)
    return write_conductor(pipeline, describes, out)


def command(
    spec: SpecArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("workflows"),
    profile: ProfileOption = None,
) -> None:
    for path in write_conductor_files(spec, out, profiles=parse_service_profiles(profile)):
        console.print(f"wrote {path}", highlight=False, soft_wrap=True)
