"""`packager build`: validate, write the build workspace, build the image on the engine."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from pesto_factory.packager.cli._common import (
    ProfileCommand,
    Profiles,
    err_console,
    load_project,
)
from pesto_factory.packager.dockerfile import CacheLevel

NAME = "build"
HELP = ("Validate the project, write its build workspace (service.json, merged configs, "
        "version.json, Dockerfile) and build the service image through the Docker Engine API "
        "at DOCKER_HOST; with --emit-workflows, also the service's Conductor and Airflow files.")

#: `--emit-workflows` given without a folder: the build workspace's workflows/.
_BESIDE_THE_IMAGE = "<workspace>/workflows"
_EMIT = "--emit-workflows"


class BuildCommand(ProfileCommand):
    """`build`, whose --emit-workflows takes an optional folder: the next word is the folder
    unless there is none or it is an option (Typer has no optional option values)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        args = list(args)
        for index, arg in enumerate(args):
            if arg == "--":
                break
            following = args[index + 1] if index + 1 < len(args) else None
            if arg == _EMIT and (following is None or following.startswith("-")):
                args[index] = f"{_EMIT}={_BESIDE_THE_IMAGE}"
        return super().parse_args(ctx, args)


COMMAND_CLASS = BuildCommand


def command(
    project: Annotated[Path, typer.Argument(
        help="The project folder, or its pesto/build/build.json.")] = Path("."),
    profiles: Profiles = None,
    cache: Annotated[CacheLevel, typer.Option(
        "--cache", "-c", envvar="PESTO_CACHE",
        help="Layer cache kept: none (clean build), C1 runtime install, C2 + pip requirements, "
             "C3 + algorithm files")] = CacheLevel.none,
    no_image: Annotated[bool, typer.Option(
        "--no-image", help="Write the workspace only; do not build the image.")] = False,
    wheelhouse: Annotated[bool, typer.Option(
        "--wheelhouse", envvar="PESTO_WHEELHOUSE",
        help="Download every wheel the image needs into the build context and install them "
             "with pip --no-index (offline builds)")] = False,
    base_image: Annotated[str | None, typer.Option(
        "--base-image", envvar="PESTO_BASE_IMAGE", show_default=False,
        help="Base image instead of requirements.json dockerBaseImage.")] = None,
    workspace: Annotated[Path | None, typer.Option(
        "--workspace", "-w", envvar="PESTO_WORKSPACE", show_default=False,
        help="Build workspace (default ~/.pesto/workspace)")] = None,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Show every line of the engine's build output.")] = False,
    emit_workflows: Annotated[str | None, typer.Option(
        _EMIT, show_default=False, metavar="[DIR]",
        help="Also write the service's Conductor TaskDef, its Airflow operator module, and a "
             "one-step example DAG and workflow calling it, into DIR (default: the build "
             "workspace's workflows/). Give DIR as --emit-workflows=DIR, or after PROJECT.")
    ] = None,
) -> None:
    from pesto_factory.packager.engine import connect, describe_host
    from pesto_factory.packager.workspace import BuildOptions, prepare_workspace

    loaded = load_project(project, profiles)
    client = None if no_image else connect()  # an unreachable engine fails before any work
    options = BuildOptions(cache=cache, wheelhouse=wheelhouse, base_image=base_image,
                           workspace=workspace)
    with err_console.status("writing the build workspace"
                            + (" and its wheelhouse" if wheelhouse else "")):
        started = time.monotonic()
        built = prepare_workspace(loaded, options)
    err_console.print(f"workspace  {built.path}  ({time.monotonic() - started:.1f} s)",
                      highlight=False)
    if emit_workflows is not None:
        folder = (built.path / "workflows" if emit_workflows == _BESIDE_THE_IMAGE
                  else Path(emit_workflows))
        _emit_workflows(loaded, folder)
    if no_image:
        err_console.print(f"image      {built.image} not built (--no-image)", highlight=False)
        return
    err_console.print(f"engine     {describe_host()}", highlight=False)
    _build_image(client, built, verbose=verbose)


def _emit_workflows(loaded, folder: Path) -> None:  # loaded: ServiceProject
    from pesto_factory.packager.workflows import service_pipeline, write_workflows

    describe = loaded.describe()
    pipeline = service_pipeline(describe, loaded.root, loaded.profiles)
    written = write_workflows(pipeline, {pipeline.steps[0].service: describe}, folder,
                              source=f"the project {loaded.root.name}")
    names = "  ".join(path.name for path in written)
    err_console.print(f"workflows  {folder}: {names}", highlight=False, soft_wrap=True)


def _build_image(client, built, *, verbose: bool) -> None:  # built: BuildWorkspace
    from pesto_factory.packager.engine import BuildFailed, build_image
    from pesto_factory.packager.workspace import record_image
    from rich.text import Text

    buildargs = {"PESTO_CACHE_BUST": str(time.time_ns())} if built.cache is not CacheLevel.none \
        else {}
    with err_console.status(f"building {built.image}") as status:
        def on_line(line: str) -> None:
            if line.startswith("STEP ") or line.startswith("Step "):
                status.update(f"building {built.image}: {line[:100]}")
                err_console.print(Text(line[:160], style="dim"))
            elif verbose:
                err_console.print(Text(f"  {line}", style="dim"))

        try:
            result = build_image(client, str(built.context), built.image,
                                 nocache=built.cache is CacheLevel.none, buildargs=buildargs,
                                 on_line=on_line)
        except BuildFailed as exc:
            for line in exc.log_tail[-15:]:
                err_console.print(f"  {line}", highlight=False, markup=False)
            raise
    record_image(built, result.image_id, result.seconds)
    err_console.print(f"[green]built[/]      {built.image}  {result.image_id[:19]}  "
                      f"({result.seconds:.1f} s, cache {built.cache.value})", highlight=False)
