"""The `packager` command line (also installed as `pesto`): wiring only.

Each subcommand lives in its own module and is registered here; a group of commands from
elsewhere joins with `app.add_typer(...)`. `main()` is the single exit point: a `PestoError`
prints its message, anything unexpected prints one line (a traceback only with PESTO_DEBUG=1),
and both exit 1.
"""

from __future__ import annotations

import os
import sys

import typer
from pesto_factory.packager.cli import (
    build,
    conductor,
    deploy,
    emit,
    init,
    list_,
    pipeline,
    run,
    schemagen,
    serve,
    test,
)
from pesto_factory.packager.cli._common import ProfileCommand, err_console
from pesto_factory.schemas.errors import PestoError

__all__ = ["app", "main"]

app = typer.Typer(
    name="packager", no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
    help="Package a Python algorithm as a geoprocessing-api REST service image, test and run it."
    " Set PESTO_DEBUG=1 to see tracebacks of unexpected errors.")

for _module in (init, schemagen, build, test, run, serve, list_):
    app.command(name=_module.NAME, cls=getattr(_module, "COMMAND_CLASS", ProfileCommand),
                help=_module.HELP)(_module.command)
app.add_typer(pipeline.app, name=pipeline.NAME, help=pipeline.HELP)
app.add_typer(emit.app, name=emit.NAME, help=emit.HELP)
app.add_typer(conductor.app, name=conductor.NAME, help=conductor.HELP)
app.add_typer(deploy.app, name=deploy.NAME, help=deploy.HELP)


def _report(exc: PestoError) -> None:
    err_console.print(f"[bold red]error:[/] {exc.message}", highlight=False, markup=True,
                      soft_wrap=True)
    if exc.hint:
        err_console.print(f"[dim]hint: {exc.hint}[/]", highlight=False, soft_wrap=True)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; the return value is the process exit code."""
    try:
        result = app(args=argv, prog_name=os.path.basename(sys.argv[0]) or "packager",
                     standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        return 1
    except typer.TyperException as exc:  # usage errors: Typer prints them with the usage line
        show = getattr(exc, "show", None)
        if show is None:
            raise
        show()
        return int(getattr(exc, "exit_code", 2))
    except PestoError as exc:
        _report(exc)
        return 1
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI's entry point: one line, no traceback
        if os.environ.get("PESTO_DEBUG"):
            raise
        err_console.print(f"[bold red]error:[/] unexpected {type(exc).__name__}: {exc} "
                          "(set PESTO_DEBUG=1 for the traceback)", highlight=False)
        return 1
    return result if isinstance(result, int) else 0
