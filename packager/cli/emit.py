"""`packager emit`: generate orchestrator artifacts from a pipeline spec and its services'
describe documents (Conductor task definitions and workflows, Airflow DAGs).

Each orchestrator's command lives in its own module (`emit_conductor`, `emit_airflow`) and
registers itself here.
"""

from __future__ import annotations

import importlib

import typer

__all__ = ["app", "NAME", "HELP"]

NAME = "emit"
HELP = "Generate Conductor workflows and Airflow DAGs from a pipeline spec."

app = typer.Typer(name=NAME, help=HELP, no_args_is_help=True, add_completion=False)

for _name in ("emit_conductor", "emit_airflow"):
    try:
        _module = importlib.import_module(f"pesto_factory.packager.cli.{_name}")
    except ModuleNotFoundError as exc:  # an orchestrator not written yet
        if exc.name != f"pesto_factory.packager.cli.{_name}":
            raise
        continue
    app.command(name=_module.NAME, help=_module.HELP)(_module.command)
