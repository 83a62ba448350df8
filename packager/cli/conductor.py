"""`packager conductor`: put a pipeline on a Conductor server.

    packager conductor register [--server URL] DIR|SPEC [-p SERVICE=PROFILE] [--option batch_size=50]
    packager conductor worker --conductor URL --service NAME=URL ...   (= pesto-conductor-worker)

`register` goes through the SDK's public metadata client (`pesto_factory.adapters.conductor
.register`): PUT, idempotent on every 3.x server; the workflow's version is kept when the
registered definition is the same and bumped when it changed. A folder holds files written by
`packager emit conductor`; a spec is generated first (its services' project folders give the
describe documents, as `emit` does).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from pesto_factory.packager.cli._common import console
from pesto_factory.packager.cli.pipeline import OptionError, ProfileOption, parse_service_profiles

__all__ = ["HELP", "NAME", "OptionsOption", "app", "parse_conductor_options"]

NAME = "conductor"
HELP = "Register pipelines on a Conductor server, run the workers of their services."

app = typer.Typer(name=NAME, help=HELP, no_args_is_help=True, add_completion=False)

OptionsOption = Annotated[list[str] | None, typer.Option(
    "--option", metavar="KEY=VALUE",
    help="Conductor option of every step, over the spec's (batch_size, max_forks, parallel, "
         "fan_in, long, callback_after_seconds, http); repeatable.", show_default=False)]


def parse_conductor_options(values: Sequence[str] | None) -> dict[str, Any]:
    """`batch_size=50` -> {"batch_size": 50}: values read as JSON, else kept as text."""
    options: dict[str, Any] = {}
    for value in values or ():
        key, sep, raw = value.partition("=")
        if not sep or not key:
            raise OptionError(f"--option {value!r}: expected KEY=VALUE")
        try:
            options[key] = json.loads(raw)
        except ValueError:
            options[key] = raw
    return options


@app.command("register", help="Register the task definitions and workflow of a spec, or the "
             "JSON files of a folder, on a Conductor server (idempotent).")
def register(
    source: Annotated[Path, typer.Argument(help="Folder of emitted JSON, or a pipeline spec.",
                                           show_default=False)],
    server: Annotated[str, typer.Option(
        "--server", "-s", help="Conductor API, http://host:port/api (env CONDUCTOR_SERVER_URL).")
    ] = "",
    profile: ProfileOption = None,
    option: OptionsOption = None,
) -> None:
    from conductor.client.configuration.configuration import Configuration
    from pesto_factory.adapters.conductor.register import register_path

    url = server or os.environ.get("CONDUCTOR_SERVER_URL") or "http://localhost:8080/api"
    if not url.startswith(("http://", "https://")):
        raise OptionError(f"--server {url!r}: expected http(s)://HOST:PORT/api")
    if not source.exists():
        raise OptionError(f"{source}: no such spec or folder")
    describes = None
    if source.is_file():
        from pesto_factory.adapters.pipeline import check_types, load_pipeline
        from pesto_factory.packager.cli.emit_conductor import describes_of

        pipeline = load_pipeline(source)
        describes = describes_of(pipeline, parse_service_profiles(profile))
        check_types(pipeline, describes)
    for line in register_path(Configuration(server_api_url=url), source, describes=describes,
                              options=parse_conductor_options(option)):
        console.print(line, highlight=False, soft_wrap=True)


@app.command("worker", context_settings={"allow_extra_args": True,
                                          "ignore_unknown_options": True},
             help="Run the Conductor workers of running services (pesto-conductor-worker; "
                  "--help lists its options).", add_help_option=False)
def worker(ctx: typer.Context) -> None:
    from pesto_factory.adapters.conductor.worker import main

    raise typer.Exit(main(list(ctx.args)))
