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
from pesto_factory.packager.cli.conductor import OptionsOption
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


def write_conductor(pipeline: Any, describes: Mapping[str, Mapping[str, Any]], out: Path, *,
                    options: Mapping[str, Any] | None = None) -> list[Path]:
    """Write `taskdefs.json` and `NAME.workflow.json` of a checked pipeline into `out` (and one
    `NAME__STEP.workflow.json` per fan-out run as sub-workflows)."""
    from pesto_factory.adapters.conductor import generate_task_defs, generate_workflows

    task_defs = generate_task_defs(describes)
    workflows = generate_workflows(pipeline, describes, options=options)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "taskdefs.json"] + [out / f"{w['name']}.workflow.json" for w in workflows]
    _write_json(paths[0], task_defs)
    for path, workflow in zip(paths[1:], workflows, strict=True):
        _write_json(path, workflow)
    return paths


def write_conductor_files(spec: Path, out: Path, *,
                          profiles: Mapping[str, list[str]] | None = None,
                          options: Mapping[str, Any] | None = None) -> list[Path]:
    """Generate and write `taskdefs.json` and the workflow file(s) of a spec into `out`."""
    from pesto_factory.adapters.pipeline import check_types, load_pipeline

    pipeline = load_pipeline(spec)
    describes = describes_of(pipeline, profiles or {})
    check_types(pipeline, describes)
    return write_conductor(pipeline, describes, out, options=options)


def command(
    spec: SpecArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("workflows"),
    profile: ProfileOption = None,
    option: OptionsOption = None,
) -> None:
    from pesto_factory.packager.cli.conductor import parse_conductor_options

    for path in write_conductor_files(spec, out, profiles=parse_service_profiles(profile),
                                      options=parse_conductor_options(option)):
        console.print(f"wrote {path}", highlight=False, soft_wrap=True)
