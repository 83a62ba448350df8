"""`packager init TARGET`: create a new service project that builds and passes its tests."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from pesto_factory.packager.cli._common import err_console

NAME = "init"
HELP = ("Create a service project: algorithm/, pesto/api, pesto/build (with a gpu profile), "
        "pesto/tests with a working case, and tests/test_service.py.")


def command(
    target: Annotated[Path, typer.Argument(help="Folder to create (must not exist or be empty).")],
    template: Annotated[Path | None, typer.Option(
        "--template", "-t", envvar="PESTO_TEMPLATE", show_default=False,
        help="Template folder instead of the built-in one")] = None,
    defaults: Annotated[bool, typer.Option(
        "--defaults", "-y", help="Ask nothing: use defaults derived from TARGET.")] = False,
) -> None:
    from dataclasses import asdict, fields

    from pesto_factory.packager.scaffold import ProjectInfo, create_project

    info = ProjectInfo.defaults_for(target)
    if not defaults and sys.stdin.isatty():
        values = asdict(info)
        for item in fields(ProjectInfo):
            values[item.name] = typer.prompt(item.name, default=values[item.name])
        info = ProjectInfo(**values)
    path = create_project(target, info, template=template)
    err_console.print(f"[green]created[/] {path} (image {info.name}:{info.version})",
                      highlight=False)
    err_console.print(f"next: packager test {target} --local", highlight=False)
