"""The runnable parts of the Markdown docs: fenced blocks, their commands and shown outputs.

A fenced block tagged `sh`, `bash`, `shell` or `python` runs in the suite (tests/docs/
test_docs_run.py); blocks tagged otherwise (`yaml`, `json`, none) are illustrations. A block is
left out only with a marker on the line(s) just before it that gives a reason:

    <!-- docs-test: skip reason="needs a real Conductor server" -->

A block that needs the container engine says so; it runs whenever DOCKER_HOST is set (as in
`make test`) and otherwise makes the doc's test skip, which the suite's skip policy refuses:

    <!-- docs-test: engine -->

In a shell block, a command is a line (with `\\` continuations); lines starting with `#` in the
first column right after a command are the output it shows (indented ones are comments),
checked against what it prints (see `output_pattern`).
This module only parses; it runs nothing.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Block", "Command", "MarkerError", "output_pattern", "parse_blocks", "shell_commands"]

SHELL_TAGS = {"sh", "bash", "shell"}
PYTHON_TAGS = {"python", "py"}
_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
_MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(.*?)\s*-->\s*$")
_SKIP = re.compile(r'^skip\s+reason=(?:"([^"]+)"|(\S.*))$')
ENGINE = "engine"
#: Indented lines that read as a command a user would copy: they must be in a fenced block.
COMMAND_WORDS = ("packager ", "pesto ", "pesto-runtime ", "curl ", "python ", ".venv/bin/",
                 "airflow ", "make ", "export ")


class MarkerError(ValueError):
    """A docs-test marker that does not say why (or says something unknown)."""


@dataclass(frozen=True)
class Command:
    """One shell command of a block, with the output the doc shows for it (may be empty)."""

    line: int
    text: str
    shown_output: tuple[str, ...] = ()


@dataclass(frozen=True)
class Block:
    """A fenced code block: its language tag, first code line (1-based) and text."""

    doc: Path
    line: int
    lang: str
    text: str
    skip_reason: str | None = None
    commands: tuple[Command, ...] = field(default=())
    needs_engine: bool = False

    @property
    def runs(self) -> bool:
        return self.skip_reason is None and self.lang in SHELL_TAGS | PYTHON_TAGS

    @property
    def where(self) -> str:
        return f"{self.doc.name}:{self.line}"


def parse_blocks(doc: Path) -> list[Block]:
    """Every fenced block of `doc`, with its skip marker; MarkerError names a bad marker."""
    lines = doc.read_text().splitlines()
    blocks: list[Block] = []
    index = 0
    marker: str | None = None
    while index < len(lines):
        line = lines[index]
        found = _MARKER.match(line)
        if found:
            skip = _SKIP.match(found.group(1))
            if not skip and found.group(1) != ENGINE:
                raise MarkerError(f"{doc.name}:{index + 1}: docs-test marker {found.group(1)!r}: "
                                  'write <!-- docs-test: skip reason="why it cannot run" --> '
                                  "or <!-- docs-test: engine -->")
            marker = ENGINE if not skip else (skip.group(1) or skip.group(2)).strip()
            index += 1
            continue
        fence = _FENCE.match(line)
        if not fence:
            if line.strip():
                marker = None  # a marker applies to the block right after it only
            index += 1
            continue
        indent, ticks, lang = fence.groups()
        body: list[str] = []
        index += 1
        start = index + 1
        while index < len(lines) and not lines[index].strip().startswith(ticks):
            body.append(lines[index][len(indent):] if lines[index].startswith(indent) else lines[index])
            index += 1
        index += 1
        text = "\n".join(body) + "\n"
        lang = lang.lower()
        commands = tuple(shell_commands(text, start)) if lang in SHELL_TAGS else ()
        engine = marker == ENGINE
        blocks.append(Block(doc, start, lang, text, None if engine else marker, commands, engine))
        marker = None
    return blocks


def unfenced_commands(doc: Path) -> list[tuple[int, str]]:
    """Indented (4-space) lines that start like a command: a user copies them, so they must be
    in a fenced `sh` block (which runs) or a marked one."""
    found = []
    in_fence = False
    previous_blank = True
    in_indented = False
    for number, line in enumerate(doc.read_text().splitlines(), start=1):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        if line.startswith("    ") and (previous_blank or in_indented):
            in_indented = True
            if line.strip().startswith(COMMAND_WORDS):
                found.append((number, line.strip()))
        elif line.strip():
            in_indented = False
        previous_blank = not line.strip()
    return found


def shell_commands(text: str, first_line: int) -> list[Command]:
    """The commands of a shell block: `\\` continuations joined, `# ...` lines right after a
    command kept as its shown output, other comment lines dropped."""
    commands: list[Command] = []
    pending: list[str] = []
    start = first_line
    shown: list[str] = []
    current: tuple[int, str] | None = None

    def close() -> None:
        nonlocal current, shown
        if current is not None:
            commands.append(Command(current[0], current[1], tuple(shown)))
        current, shown = None, []

    for offset, raw in enumerate(text.splitlines()):
        stripped = raw.strip()
        if pending:
            pending.append(stripped)
            if not _continues("\n".join(pending)):
                current = (start, "\n".join(pending))
                pending = []
            continue
        if not stripped:
            close()
            continue
        if stripped.startswith("#"):
            if current is not None and raw.startswith("#"):  # indented: a comment, not output
                shown.append(stripped[1:].strip())
            continue
        close()
        start = first_line + offset
        if _continues(stripped):
            pending = [stripped]
        else:
            current = (start, stripped)
    if pending:
        current = (start, "\n".join(pending))
    close()
    return commands


def _continues(text: str) -> bool:
    """A command goes on to the next line: a trailing `\\`, or a quote still open."""
    if text.endswith("\\"):
        return True
    try:
        shlex.split(text, comments=True)
    except ValueError:  # "No closing quotation"
        return True
    return False


_NUMBER = re.compile(r"-?\d+\.\d+")
_PLACEHOLDER = re.compile(r"<[\w .-]+>")


def output_pattern(shown: tuple[str, ...]) -> re.Pattern[str]:
    """A regex for the output a doc shows, compared with whitespace removed on both sides.

    `...` stands for anything, `<id>`-like words for any non-empty text, and a decimal number
    for any number (the docs show one scene's values; the suite runs on a generated one).
    Integers (status codes, counts) and everything else must match exactly.
    """
    text = "".join("".join(shown).split())
    pattern = ""
    for piece in re.split(r"(\.\.\.|<[\w .-]+>|-?\d+\.\d+)", text):
        if piece == "...":
            pattern += ".*?"
        elif _PLACEHOLDER.fullmatch(piece):
            pattern += ".+?"
        elif _NUMBER.fullmatch(piece):
            pattern += r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
        else:
            pattern += re.escape(piece)
    return re.compile(pattern, re.DOTALL)
