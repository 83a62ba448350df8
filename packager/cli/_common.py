"""What the subcommands share: consoles, the profile option, project loading, failures."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer
from pesto_factory.schemas.errors import PestoError, ProjectError
from rich.console import Console
from typer.core import TyperCommand

__all__ = ["console", "err_console", "Profiles", "ProfileCommand", "expand_profile_args",
           "load_project", "CommandFailed", "split_profiles"]

#: Results (JSON, tables) go to stdout; progress and messages to stderr.
console = Console()
err_console = Console(stderr=True)

_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class CommandFailed(PestoError):
    """A command ran and its outcome is a failure (a test case mismatch, a refused write)."""


def split_profiles(values: list[str] | None) -> list[str]:
    """`-p a,b -p c` and PESTO_PROFILES="a,b c" both give [a, b, c]; order kept."""
    result: list[str] = []
    for value in values or []:
        for name in re.split(r"[,\s]+", value):
            if name and name not in result:
                result.append(name)
    return result


Profiles = Annotated[list[str], typer.Option(
    "-p", "--profile", envvar="PESTO_PROFILES", callback=split_profiles, show_default=False,
    help="Active profile(s), in merge order: -p gpu, -p dl gpu, -p dl,gpu "
 "(PESTO_PROFILES: comma or space separated)")]


def expand_profile_args(args: list[str]) -> list[str]:
    """Rewrite `-p a b` as `-p a -p b`: words after -p that look like profile names and are
    not existing paths are more profiles (a path or an option ends the list)."""
    result: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        result.append(arg)
        index += 1
        if arg not in ("-p", "--profile") or index >= len(args):
            continue
        result.append(args[index])
        index += 1
        while (index < len(args) and _PROFILE_NAME.match(args[index])
               and not Path(args[index]).exists()):
            result += [arg, args[index]]
            index += 1
    return result


class ProfileCommand(TyperCommand):
    """A command whose -p option takes one or more profile names."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, expand_profile_args(list(args)))


def project_root(target: Path, profiles: list[str]) -> tuple[Path, list[str]]:
    """A project folder, or its pesto/build/build[.P].json (which adds profile P)."""
    if target.is_file():
        parts = target.name.split(".")
        if target.parent.name != "build" or parts[0] != "build" or parts[-1] != "json":
            raise ProjectError("expected a project folder or its pesto/build/build.json",
                               path=str(target))
        if len(parts) == 3 and parts[1] not in profiles:
            profiles = [*profiles, parts[1]]
        return target.resolve().parents[2], profiles
    if not target.exists():
        raise ProjectError("no such project folder", path=str(target))
    return target.resolve(), profiles


def load_project(target: Path, profiles: list[str]):  # -> pesto_factory.runtime.project.ServiceProject
    from pesto_factory.runtime.project import ServiceProject

    root, profiles = project_root(target, split_profiles(profiles))
    return ServiceProject.load(root, tuple(profiles))
