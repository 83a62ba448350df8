"""A rich progress display of a run: one bar per step, items done / total for a fan-out step.

It implements the engine's `RunObserver` and writes to stderr, so stdout stays for results.
"""

from __future__ import annotations

from typing import Any

from pesto_factory.adapters.local.engine import StepRecord
from pesto_factory.adapters.pipeline import Step
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["RichProgress"]


class RichProgress:
    """Context manager: `with RichProgress() as progress: run_pipeline(..., observer=progress)`."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
            MofNCompleteColumn(), TimeElapsedColumn(), console=self.console, transient=False)
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._progress.stop()

    def note(self, message: str) -> None:
        self._progress.console.print(f"[dim]{message}[/]", highlight=False)

    def step_started(self, step: Step, total: int) -> None:
        label = f"{step.id} [dim]({step.service}{', per item' if step.fan_out else ''})[/]"
        self._tasks[step.id] = self._progress.add_task(label, total=total)

    def item_done(self, step: Step) -> None:
        self._progress.advance(self._tasks[step.id])

    def step_finished(self, step: Step, record: StepRecord) -> None:
        task = self._tasks.get(step.id)
        if task is None:
            return
        mark = "[green]done[/]" if record.status == "SUCCEEDED" else "[red]failed[/]"
        self._progress.update(task, description=f"{step.id} [dim]({step.service})[/] {mark}")
        self._progress.stop_task(task)
