"""`packager list`: the services built in the workspace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pesto_factory.packager.cli._common import console

NAME = "list"
HELP = ("List the services built in the workspace (name, tag, profiles, image): whether the "
        "image exists is asked of the engine when it answers.")


def _with_engine_truth(builds: list) -> list:  # list[BuildRecord]
    """Each build's image id as the engine has it now (an image built before a later
    `--no-image` run, or removed since); the workspace's record when the engine is away."""
    import dataclasses

    from pesto_factory.packager.engine import EngineError, connect, image_id_of

    if not builds:
        return builds
    try:
        client = connect(timeout=5)
    except EngineError:
        return builds
    return [dataclasses.replace(build, image_id=image_id_of(client, build.image))
            for build in builds]


def command(
    workspace: Annotated[Path | None, typer.Option(
        "--workspace", "-w", envvar="PESTO_WORKSPACE", show_default=False,
        help="Build workspace (default ~/.pesto/workspace)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    from pesto_factory.packager.workspace import list_builds, workspace_root
    from rich.table import Table

    root = workspace_root(None, workspace)
    builds = _with_engine_truth(list_builds(root))
    if as_json:
        console.print_json(json.dumps([build.as_dict() for build in builds]))
        return
    if not builds:
        console.print(f"no builds in {root}")
        return
    table = Table(title=f"Services in {root}")
    for column in ("image", "version", "profiles", "prepared", "image id"):
        table.add_column(column)
    for build in builds:
        table.add_row(build.image, build.version, ",".join(build.profiles) or "-", build.built,
                      build.image_id[:19] if build.image_id else "[dim]not built[/]")
    console.print(table)
