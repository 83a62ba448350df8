"""Input roots for the runtimes the development commands start: the folders of the user's files.

A runtime reads `file://` inputs only under PESTO_INPUT_ROOTS (403 otherwise). When a developer
passes a payload naming local files to `packager run`, `test --local`, `serve` or `pipeline run`,
refusing them would only be a surprise: these commands give the runtime they start the folders
of those files (plus any PESTO_INPUT_ROOTS already set) and say so on stderr.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["describe_roots", "payload_roots", "runtime_env", "runtime_roots"]


def payload_roots(*payloads: Any) -> list[Path]:
    """The folders of every `file://` URI in the payloads (nested in objects and lists too)."""
    roots: list[Path] = []

    def visit(value: Any) -> None:
        if isinstance(value, str) and value[:7].lower() == "file://":
            folder = Path(os.path.realpath(unquote(urlsplit(value).path))).parent
            if folder not in roots:
                roots.append(folder)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)
        elif isinstance(value, list | tuple):
            for item in value:
                visit(item)

    for payload in payloads:
        visit(payload)
    return roots


def runtime_roots(roots: Iterable[Path]) -> list[Path]:
    """The started runtime's input roots: the operator's PESTO_INPUT_ROOTS plus `roots`."""
    merged = [Path(item) for item in re.split(r"[:,]", os.environ.get("PESTO_INPUT_ROOTS", ""))
              if item.strip()]
    return merged + [root for root in roots if root not in merged]


def runtime_env(roots: Iterable[Path]) -> dict[str, str]:
    """The same as PESTO_INPUT_ROOTS, for a runtime started with this environment."""
    merged = runtime_roots(roots)
    return {"PESTO_INPUT_ROOTS": os.pathsep.join(map(str, merged))} if merged else {}


def describe_roots(roots: Iterable[Path], why: str) -> str:
    """The one line the commands print: which folders the runtime may read, and why."""
    shown = [str(root) for root in roots]
    if not shown:
        return ("input roots: none (file:// inputs will be refused with 403; "
                "set PESTO_INPUT_ROOTS to allow a folder)")
    return f"input roots: {', '.join(shown)} ({why})"
