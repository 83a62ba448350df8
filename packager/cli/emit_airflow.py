"""`packager emit airflow SPEC`: the Airflow operators of a pipeline's services and its DAG.

Writes `<name>_operators.py` (one operator class per service, from its describe document) and
`<name>.py` (the DAG) into `--out` (default `dags/`). Describe documents come from the project
folders (built here, with `-p` profiles), from running services (`url:`), or from files given
with `--describe NAME=FILE` (required for `image:` services).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pesto_factory.packager.cli._common import console
from pesto_factory.packager.cli.pipeline import (
    DescribeOption,
    OptionError,
    ProfileOption,
    SpecArgument,
    parse_pairs,
    parse_service_profiles,
)

__all__ = ["NAME", "HELP", "command", "describes_for"]

NAME = "airflow"
HELP = ("Generate Airflow operators (one per service) and the DAG of a pipeline spec "
        "(docs/airflow.md).")


def _describes(pipeline: Any, profiles: dict[str, list[str]],
               files: dict[str, str]) -> dict[str, Any]:
    from pesto_factory.packager.cli.pipeline import describes_for

    return describes_for(pipeline, profiles=profiles, files=files)


def describes_for(pipeline: Any, spec: Path, profile: list[str] | None,
                  describe: list[str] | None) -> dict[str, dict[str, Any]]:
    """The describe documents of a spec's services, per the `--profile` and `--describe`
    options (each naming a service of the spec)."""
    profiles = parse_service_profiles(profile)
    files = parse_pairs("--describe", describe)
    for option, names in (("--profile", profiles), ("--describe", files)):
        unknown = [name for name in names if name not in pipeline.services]
        if unknown:
            raise OptionError(f"{option} {unknown[0]}: no such service in {spec}")
    return _describes(pipeline, profiles, files)


def command(
    spec: SpecArgument,
    out: Annotated[Path, typer.Option(
        "--out", "-o", envvar="PESTO_AIRFLOW_DAGS",
        help="Folder for the DAG and operators modules (PESTO_AIRFLOW_DAGS).")] = Path("dags"),
    profile: ProfileOption = None,
    describe: DescribeOption = None,
    batch_size: Annotated[int | None, typer.Option(
        "--batch-size", min=1, show_default=False,
        help="Fan-outs: items per mapped task at least (the spec's airflow.batch_size; a "
             "step's own wins).")] = None,
    max_map_length: Annotated[int | None, typer.Option(
        "--max-map-length", min=1, max=1024, show_default=False,
        help="Fan-outs: mapped tasks at most, batches grow past it (airflow.max_map_length, "
             "default 256).")] = None,
) -> None:
    from pesto_factory.adapters.airflow.generate import emit, with_airflow_options
    from pesto_factory.adapters.pipeline import check_types, load_pipeline

    pipeline = load_pipeline(spec)
    describes = describes_for(pipeline, spec, profile, describe)
    check_types(pipeline, describes)
    chosen = {"batch_size": batch_size, "max_map_length": max_map_length}
    written = emit(with_airflow_options(pipeline, chosen), describes, out)
    console.print(f"{spec}: wrote {written.dag} and {written.operators}", highlight=False,
                  soft_wrap=True)
