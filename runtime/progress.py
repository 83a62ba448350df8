"""Progress reporting from inside an algorithm.

A worker process installs a reporter before each job; `report_progress(50, "half way")` then
shows in the job's status. Outside a worker (a unit test calling the algorithm directly) it does
nothing, so algorithms can call it unconditionally.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["report_progress", "set_reporter"]

_reporter: Callable[[int, str | None], None] | None = None


def set_reporter(reporter: Callable[[int, str | None], None] | None) -> None:
    global _reporter
    _reporter = reporter


def report_progress(percent: float, message: str | None = None) -> None:
    """Tell the service how far the current job is (0-100)."""
    if _reporter is not None:
        _reporter(max(0, min(100, int(percent))), message)
