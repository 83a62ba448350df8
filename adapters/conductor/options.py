"""How the Conductor generator shapes each step: the `conductor:` options of a pipeline spec
(schemas/pipeline.json, definition `Conductor`), over these defaults and under the command
line's.

The defaults carry a 10,000-item fan-out with every Conductor payload far below the server's
3 MB external-storage threshold: 100 items per forked task (so 100 forks, not 10,000), at most
200 forks (past 20,000 items the batches grow instead), and the fan-in by manifest (each batch's
outputs are written by its worker to the manifest store; Conductor carries only their URIs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

__all__ = ["StepOptions", "step_options"]

FanIn = Literal["manifest", "inline"]


@dataclass(frozen=True)
class StepOptions:
    """The resolved options of one step (see the schema's descriptions)."""

    batch_size: int = 100
    max_forks: int = 200
    parallel: int = 8
    fan_in: FanIn = "manifest"
    long: bool = False
    callback_after_seconds: int = 30
    http: bool = False
    sub_workflow_forks: int = 0  # > 0: a SUB_WORKFLOW per chunk of that many batches

    def __post_init__(self) -> None:
        if not isinstance(self.sub_workflow_forks, int) or self.sub_workflow_forks < 0:
            raise ValueError(f"conductor option sub_workflow_forks: expected an integer >= 0, "
                             f"got {self.sub_workflow_forks!r}")
        for name in ("batch_size", "max_forks", "parallel", "callback_after_seconds"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"conductor option {name}: expected an integer >= 1, "
                                 f"got {value!r}")
        if self.fan_in not in ("manifest", "inline"):
            raise ValueError(f"conductor option fan_in: expected manifest or inline, "
                             f"got {self.fan_in!r}")

    def over(self, values: Mapping[str, Any] | None) -> StepOptions:
        """These options with `values` (spec or command line names) on top."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(values or {}) - known)
        if unknown:
            raise ValueError(f"unknown conductor option(s) {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(known))}")
        return replace(self, **dict(values or {}))


def step_options(pipeline: Any, step: Any,
                 overrides: Mapping[str, Any] | None = None) -> StepOptions:
    """Defaults < the spec's pipeline-wide `conductor:` < the step's < `overrides` (the command
    line)."""
    return (StepOptions().over(getattr(pipeline, "conductor", None))
            .over(getattr(step, "conductor", None)).over(overrides))
