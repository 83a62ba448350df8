"""`packager serve`: the project's service on this machine, restarted when its files change."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from pesto_factory.packager.cli._common import Profiles, err_console, load_project

NAME = "serve"
HELP = ("Serve the project locally for development (pesto-runtime serve), restarting it when "
        "a file of the project changes.")


def command(
    project: Annotated[Path, typer.Argument(help="The project folder.")] = Path("."),
    profiles: Profiles = None,
    host: Annotated[str, typer.Option(envvar="PESTO_HOST",
                                      help="Address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="PESTO_PORT",
                                      help="Port")] = 8080,
    reload: Annotated[bool, typer.Option(help="Restart when project files change.")] = True,
) -> None:
    import os
    import subprocess

    from pesto_factory.packager.inputroots import describe_roots, runtime_env, runtime_roots

    loaded = load_project(project, profiles)  # fail early, with the file and pointer at fault
    command_line = [sys.executable, "-m", "pesto_factory.runtime.cli", "serve", str(loaded.root),
                    "--host", host, "--port", str(port)]
    for profile in loaded.profiles:
        command_line += ["--profile", profile]
    roots = runtime_roots([Path.cwd()])
    os.environ.update(runtime_env(roots))  # the runtime (and each restart) inherits it
    err_console.print(describe_roots(roots, "PESTO_INPUT_ROOTS and the current folder"),
                      highlight=False, soft_wrap=True)
    err_console.print(f"serving {loaded.name} on http://{host}:{port}/api/v1 "
                      f"({'reloading on change' if reload else 'no reload'}); Ctrl-C stops",
                      highlight=False)
    if not reload:
        raise typer.Exit(subprocess.call(command_line))
    import watchfiles

    watchfiles.run_process(loaded.root, target=shlex.join(command_line), target_type="command",
                           watch_filter=_ProjectFilesOnly(),
                           callback=lambda changes: err_console.print(
                               f"[dim]{len(changes)} change(s): restarting[/]"))


class _ProjectFilesOnly:
    """Changes that should restart the service: project files, not what the service writes.

    The job store and outputs (PESTO_STATE_DIR, by default .pesto-state under the current
    folder, often the project itself) change on every call: watching them restarts forever.
    """

    def __init__(self) -> None:
        import os

        import watchfiles

        self._default = watchfiles.DefaultFilter()
        folders = (os.environ.get("PESTO_STATE_DIR", ".pesto-state"),
                   os.environ.get("PESTO_OUTPUT_ROOT") or ".pesto-state")
        self._ignored = tuple(str(Path(p).resolve()) for p in folders if "://" not in p)

    def __call__(self, change: object, path: str) -> bool:
        resolved = str(Path(path).resolve())
        if any(resolved == p or resolved.startswith(p + "/") for p in self._ignored):
            return False
        if ".pesto-state" in Path(path).parts or path.endswith((".sqlite", "-journal", "-wal")):
            return False
        return self._default(change, path)
