"""`packager pipeline`: check a pipeline spec, or run it on this machine (the embedded runner)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from pesto_factory.packager.cli._common import console, err_console
from pesto_factory.schemas.errors import PestoError

__all__ = ["app", "NAME", "HELP"]

NAME = "pipeline"
HELP = ("Chain services with a pipeline spec (YAML, docs/pipelines.md): check it, run it "
        "on this machine, or emit its Conductor and Airflow files.")

app = typer.Typer(name=NAME, help=HELP, no_args_is_help=True, add_completion=False)


class OptionError(PestoError):
    """A command-line option value that cannot be used (names the option and the value)."""


def parse_pairs(option: str, values: Sequence[str] | None) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values or []:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise OptionError(f"{option} {value!r}: expected NAME=VALUE")
        pairs[name] = rest
    return pairs


def parse_service_profiles(values: Sequence[str] | None) -> dict[str, list[str]]:
    """`-p svc=a,b -p svc=c` -> {svc: [a, b, c]}; `-p svc=` is not allowed (use the spec)."""
    result: dict[str, list[str]] = {}
    for value in values or []:
        name, sep, rest = value.partition("=")
        if not sep or not name:
            raise OptionError(f"--profile {value!r}: expected SERVICE=PROFILE[,PROFILE...]")
        chosen = result.setdefault(name, [])
        chosen += [p for p in rest.replace(" ", ",").split(",") if p and p not in chosen]
    return result


SpecArgument = Annotated[Path, typer.Argument(help="Pipeline spec (YAML).", show_default=False)]
ProfileOption = Annotated[list[str] | None, typer.Option(
    "--profile", "-p", show_default=False,
    help="SERVICE=PROFILE[,PROFILE]: profiles of a service, replacing the spec's (repeatable).")]
DescribeOption = Annotated[list[str] | None, typer.Option(
    "--describe", show_default=False,
    help="SERVICE=FILE: the service's describe document (JSON) instead of building or "
         "asking it (repeatable).")]


def describes_for(pipeline: Any, *, profiles: Mapping[str, Sequence[str]] | None = None,
                  files: Mapping[str, str] | None = None,
                  only_projects: bool = False) -> dict[str, Any]:
    """The describe documents of a spec's services through the adapters' one collector
    (`collect_describes`); project folders are described in this process (the packager has
    the runtime)."""
    from pesto_factory.adapters.pipeline import collect_describes
    from pesto_factory.runtime.project import ServiceProject

    def describe_project(project: Path, chosen: tuple[str, ...]) -> dict[str, Any]:
        return ServiceProject.load(project, chosen).describe()

    return collect_describes(pipeline.services, files=files, profiles=profiles,
                             describe_project=describe_project, only_projects=only_projects)


@app.command("check", help="Check a spec: schema, references, cycles, and the types against "
             "the describe documents of its project services.")
def check(spec: SpecArgument, profile: ProfileOption = None) -> None:
    from pesto_factory.adapters.pipeline import check_types, load_pipeline

    pipeline = load_pipeline(spec)
    chosen = parse_service_profiles(profile)
    unknown = [name for name in chosen if name not in pipeline.services]
    if unknown:
        raise OptionError(f"--profile {unknown[0]}: no such service in {spec}")
    describes = describes_for(pipeline, profiles=chosen, only_projects=True)
    check_types(pipeline, describes)
    flow = " -> ".join(
        f"{step.id}[foreach {step.foreach.text}]" if step.foreach else step.id
        for step in pipeline.ordered_steps())
    checked = ", ".join(describes) or "none (no project services)"
    console.print(f"{spec}: ok: {pipeline.name}: {flow}", highlight=False, markup=False,
                  soft_wrap=True)
    console.print(f"types checked against: {checked}", highlight=False, soft_wrap=True)


@app.command("emit", help="Write a chain's Conductor task definitions and workflow "
             "(taskdefs.json, NAME.workflow.json) and its Airflow operators and DAG "
             "(NAME_operators.py, NAME.py) in one call (docs/packager.md).")
def emit(
    spec: SpecArgument,
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Folder for all four files.")] = Path("."),
    conductor_out: Annotated[Path | None, typer.Option(
        "--conductor-out", show_default=False,
        help="Folder for the Conductor files instead of --out (the repository: workflows).")
    ] = None,
    airflow_out: Annotated[Path | None, typer.Option(
        "--airflow-out", show_default=False,
        help="Folder for the Airflow files instead of --out (the repository: dags).")] = None,
    profile: ProfileOption = None,
    describe: DescribeOption = None,
) -> None:
    from pesto_factory.adapters.pipeline import load_pipeline
    from pesto_factory.packager.cli.emit_airflow import describes_for
    from pesto_factory.packager.workflows import write_workflows

    pipeline = load_pipeline(spec)
    describes = describes_for(pipeline, spec, profile, describe)
    written = write_workflows(pipeline, describes, conductor_out or out,
                              airflow_out=airflow_out or out)
    for path in written:
        console.print(f"wrote {path}", highlight=False, soft_wrap=True)


@app.command("run", help="Run a pipeline on this machine: its project services start on "
             "127.0.0.1, fan-out items run in parallel, OUTPUT/summary.json records the run.")
def run(
    spec: SpecArgument,
    inputs: Annotated[list[str] | None, typer.Option(
        "--input", "-i", show_default=False,
        help="NAME=VALUE (repeatable): a path or URI for images; JSON when it parses.")] = None,
    services: Annotated[list[str] | None, typer.Option(
        "--service", "-s", show_default=False,
        help="NAME=URL (repeatable): use this running service instead of starting it; "
             "NAME=URL1,URL2 spreads its calls over replicas.")] = None,
    profile: ProfileOption = None,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", show_default=False,
        help="Output folder (default: runs/PIPELINE-YYYYmmdd-HHMMSS), or an object store "
        "prefix s3://bucket/run-id/ the services write their images to (the summary and "
        "logs then go to the default folder).")] = None,
    parallel: Annotated[int | None, typer.Option(
        "--parallel", envvar="PESTO_PIPELINE_PARALLEL", min=1, show_default=False,
        help="Fan-out items in flight, and workers of the fan-out service (default: cores).")
    ] = None,
    start_timeout: Annotated[float, typer.Option(
        "--start-timeout", envvar="PESTO_START_TIMEOUT",
        help="Seconds to wait for the services to be healthy.")] = 120.0,
    token: Annotated[str | None, typer.Option(
        "--token", envvar="PESTO_API_TOKEN", show_default=False,
        help="Bearer token for the services given with --service.")] = None,
) -> None:
    from pesto_factory.adapters.local import run_pipeline
    from pesto_factory.adapters.local.progress import RichProgress
    from pesto_factory.adapters.pipeline import load_pipeline, parse_input_args

    pipeline = load_pipeline(spec)
    given = parse_input_args(pipeline, inputs or [])
    store = output if output and output.startswith(("s3://", "gs://")) else None
    default = Path("runs") / f"{pipeline.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    folder = Path(output) if output and not store else default
    _say_input_roots(given)
    with RichProgress(err_console) as progress:
        summary = run_pipeline(pipeline, given, output_dir=folder, output_store=store,
                               service_urls=parse_pairs("--service", services),
                               profiles=parse_service_profiles(profile), parallel=parallel, token=token,
                               start_timeout=start_timeout, observer=progress)
    _print_summary(summary)


def _say_input_roots(given: dict[str, Any]) -> None:
    """The runner gives every service it starts the folders of the inputs and the services'
    output folders as input roots (not the caller's PESTO_INPUT_ROOTS): say which."""
    from pesto_factory.packager.inputroots import describe_roots, payload_roots

    err_console.print(describe_roots(payload_roots(given),
                                     "the inputs' folders; each started service's outputs too"),
                      highlight=False, soft_wrap=True)


def _print_summary(summary: Any) -> None:
    from rich.table import Table

    table = Table(title=f"{summary.pipeline}: {summary.status} in {summary.seconds:.1f} s")
    for column in ("step", "service", "calls", "seconds", "status"):
        table.add_column(column)
    for record in summary.steps:
        table.add_row(record.id, record.service, str(record.calls), f"{record.seconds:.2f}",
                      record.status)
    err_console.print(table)
    folder = summary.output_dir
    def where(item: str) -> str:  # a file published in the folder, or an object's URI
        return item if "://" in item else str(folder / item)

    files = {name: [where(item) for item in value] if isinstance(value, list) else where(value)
             for name, value in summary.files.items()}
    for name, path in files.items():
        err_console.print(f"{name}: {path}", highlight=False, soft_wrap=True)
    console.print_json(json.dumps({"status": summary.status,
                                   "summary": str(folder / "summary.json"),
                                   "outputs": dict(summary.outputs), "files": files}))
