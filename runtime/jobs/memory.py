"""How much memory a worker's process tree holds, read from /proc (Linux), cheaply.

The pool samples the resident memory (RSS) of each busy worker and of every process it
started (a tiling pool, a subprocess) and kills the tree over PESTO_WORKER_MEMORY. RSS, not
virtual size: RLIMIT_AS would also count the address space that threads, CUDA and allocators
reserve without using, and limits each process alone rather than the tree.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["describe_bytes", "tree_rss"]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_PROC = Path("/proc")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in (_PROC / str(pid) / "task").iterdir():
            text = (task / "children").read_text()
            found.extend(int(child) for child in text.split())
    except OSError:
        pass
    return found


def _rss(pid: int) -> int:
    try:
        return int((_PROC / str(pid) / "statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and all its descendants (0 where /proc is not available)."""
    total, pending, seen = 0, [pid], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        total += _rss(current)
        pending.extend(_children(current))
    return total


def describe_bytes(size: int) -> str:
    """`size` for a message: '536870912 bytes (512 MiB)'."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor:
            return f"{size} bytes ({size / factor:.3g} {unit})"
    return f"{size} bytes"
