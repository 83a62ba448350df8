"""Running a pipeline's steps: dependency order, fan-out in parallel, fan-in in item order.

The engine knows nothing of HTTP or processes: it resolves each step's inputs, hands them to a
`StepCall` (the runner's calls the service through the REST client; tests pass plain
functions), and keeps the outputs. A fan-out step's items run on a bounded thread pool (the
work happens in the services, the threads only wait), and their outputs are stored by item
index, so the fan-in list is in item order whatever order the items finished in.

The first failure stops the run: items not started are cancelled, and `StepFailed` names the
step, the item and the service's message. `records` tells, even then, what ran and how long.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

from pesto_factory.adapters.client import ServiceError
from pesto_factory.adapters.pipeline import Pipeline, ResolutionError, Scope, Step, resolve
from pesto_factory.schemas.errors import PestoError

__all__ = ["PipelineEngine", "RunObserver", "StepCall", "StepFailed", "StepRecord"]

log = logging.getLogger(__name__)


class StepCall(Protocol):
    """Call `step`'s service once with `inputs`; return its outputs (a JSON object)."""

    def __call__(self, step: Step, inputs: dict[str, Any]) -> dict[str, Any]: ...


class RunObserver(Protocol):
    """What a progress display hears; called from the engine's thread only."""

    def note(self, message: str) -> None: ...

    def step_started(self, step: Step, total: int) -> None: ...

    def item_done(self, step: Step) -> None: ...

    def step_finished(self, step: Step, record: StepRecord) -> None: ...


@dataclass(frozen=True)
class StepRecord:
    """How one step went: `calls` made, wall-clock `seconds`, `items` for a fan-out step."""

    id: str
    service: str
    status: str  # SUCCEEDED | FAILED | NOT_RUN
    calls: int = 0
    seconds: float = 0.0
    items: int | None = None
    error: str | None = None


class StepFailed(PestoError):
    """A step could not finish: names the step, its service, the item (fan-out) and why."""

    def __init__(self, step: Step, reason: str, *, item: int | None = None,
                 total: int | None = None, status_code: int | None = None,
                 hint: str | None = None) -> None:
        where = f"step {step.id!r} (service {step.service!r})"
        if item is not None:
            where += f", item {item}" + (f" of {total}" if total is not None else "")
        super().__init__(f"{where} failed: {reason}", hint=hint)
        self.step_id = step.id
        self.service = step.service
        self.item = item
        self.reason = reason
        self.service_status = status_code


class _Counter:
    """Calls made by a step, counted from its item threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self) -> None:
        with self._lock:
            self.value += 1


class PipelineEngine:
    """Runs one pipeline once; `records` holds a StepRecord per step (NOT_RUN until it ran)."""

    def __init__(self, pipeline: Pipeline, call: StepCall, *, parallel: int,
                 observer: RunObserver | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if parallel < 1:
            raise ValueError(f"parallel must be at least 1, not {parallel}")
        self.pipeline = pipeline
        self._call = call
        self._parallel = parallel
        self._observer = observer
        self._clock = clock
        self.records: dict[str, StepRecord] = {
            step.id: StepRecord(step.id, step.service, "NOT_RUN") for step in pipeline.steps}

    def run(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Run every step in order; the pipeline's outputs, resolved. Raises StepFailed."""
        scope = Scope(inputs=dict(inputs), steps={})
        for step in self.pipeline.ordered_steps():
            output = self._run_step(step, scope)
            scope = Scope(scope.inputs, {**scope.steps, step.id: output})
        try:
            return resolve(dict(self.pipeline.outputs), scope)
        except ResolutionError as exc:
            raise ResolutionError(f"pipeline outputs: {exc.message}") from None

    def _run_step(self, step: Step, scope: Scope) -> Any:
        started = self._clock()
        calls = _Counter()
        items: list[Any] | None = None
        try:
            if step.foreach is None:
                self._notify("step_started", step, 1)
                output: Any = self._call_once(step, scope, calls)
                self._notify("item_done", step)
            else:
                items = self._items(step, scope)
                self._notify("step_started", step, len(items))
                output = self._fan_out(step, scope, items, calls)
        except StepFailed as failure:
            self._finish(step, "FAILED", started, calls.value, items, failure.reason)
            raise
        except BaseException as exc:
            reason = ("interrupted" if isinstance(exc, KeyboardInterrupt)
                      else getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}")
            self._finish(step, "FAILED", started, calls.value, items, reason)
            raise
        self._finish(step, "SUCCEEDED", started, calls.value, items, None)
        return output

    def _finish(self, step: Step, status: str, started: float, calls: int,
                items: list[Any] | None, error: str | None) -> None:
        record = StepRecord(step.id, step.service, status, calls,
                            round(self._clock() - started, 3),
                            None if items is None else len(items), error)
        self.records[step.id] = record
        self._notify("step_finished", step, record)

    def _items(self, step: Step, scope: Scope) -> list[Any]:
        assert step.foreach is not None
        try:
            value = resolve(step.foreach, scope)
        except ResolutionError as exc:
            raise StepFailed(step, f"foreach: {exc.message}") from None
        if not isinstance(value, list):
            raise StepFailed(step, f"foreach: {step.foreach.text} is not a list but "
                             f"{type(value).__name__} {str(value)[:100]}")
        return value

    def _call_once(self, step: Step, scope: Scope, calls: _Counter, *,
                   item: int | None = None, total: int | None = None) -> dict[str, Any]:
        try:
            payload = resolve(dict(step.inputs), scope)
        except ResolutionError as exc:
            raise StepFailed(step, f"inputs: {exc.message}", item=item, total=total) from None
        calls.add()
        try:
            return self._call(step, payload)
        except ServiceError as exc:
            raise StepFailed(step, exc.service_message, item=item, total=total,
                             status_code=exc.status_code, hint=exc.hint) from exc

    def _fan_out(self, step: Step, scope: Scope, items: list[Any],
                 calls: _Counter) -> list[dict[str, Any]]:
        assert step.item is not None
        outputs: list[Any] = [None] * len(items)
        if not items:
            return outputs
        pool = ThreadPoolExecutor(max_workers=min(self._parallel, len(items)),
                                  thread_name_prefix=f"step-{step.id}")
        futures: dict[Future, int] = {}
        stop = threading.Event()  # set by the first failure: items not yet called are skipped

        def call_item(index: int, item: Any) -> dict[str, Any] | None:
            if stop.is_set():
                return None
            try:
                return self._call_once(step, scope.with_item(step.item, item), calls,
                                       item=index, total=len(items))
            except BaseException:
                stop.set()
                raise

        try:
            for index, item in enumerate(items):
                futures[pool.submit(call_item, index, item)] = index
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for future in sorted(done, key=futures.__getitem__):
                    outputs[futures[future]] = future.result()  # raises the item's StepFailed
                    self._notify("item_done", step)
        finally:
            # Items not started are dropped; running ones end with their service call.
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
        return outputs

    def _notify(self, event: str, *args: Any) -> None:
        if self._observer is not None:
            getattr(self._observer, event)(*args)

