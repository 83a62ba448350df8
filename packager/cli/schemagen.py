"""`packager schemagen PROJECT`: write the input/output schemas from the pydantic models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pesto_factory.packager.cli._common import CommandFailed, err_console

NAME = "schemagen"
HELP = ("Generate pesto/api/input_schema.json and output_schema.json from the Input and Output "
        "pydantic models of algorithm/input_output.py.")


def command(
    project: Annotated[Path, typer.Argument(help="The service project folder.")] = Path("."),
    force: Annotated[bool, typer.Option("--force", "-f",
                                        help="Overwrite schema files edited by hand too.")] = False,
) -> None:
    from pesto_factory.packager.schemagen import generate_schemas, write_schemas
    from pesto_factory.runtime.configfiles import read_json

    root = project.resolve()
    build_file = root / "pesto" / "build" / "build.json"
    build = read_json(build_file) if build_file.is_file() else {}
    name = str(build.get("name", root.name)).rsplit("/", 1)[-1]
    generated = generate_schemas(root, algorithm=build.get("algorithm", "algorithm"), name=name)
    results = write_schemas(root, generated, force=force)
    for result in results:
        err_console.print(f"{result.status:>9}  {result.path}", highlight=False)
    edited = [r for r in results if r.status == "edited"]
    if edited:
        raise CommandFailed(
            f"{len(edited)} schema file(s) were edited by hand since schemagen wrote them and "
            "were kept: " + ", ".join(str(r.path) for r in edited),
            hint="move your edits into algorithm/input_output.py, or run again with --force to "
                 "overwrite them")
