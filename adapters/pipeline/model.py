"""The pipeline spec as values: inputs, services, steps and outputs, frozen once loaded.

A pipeline is a directed acyclic graph of steps. Each step calls one service with inputs that
are JSON literals in which whole-string `${...}` expressions have been compiled into `Ref`s:

- `${inputs.NAME[.field...]}`      a pipeline input              -> Ref("input", NAME, path)
- `${STEP[.field...]}`             a step's output (its object)  -> Ref("step", STEP, path)
- `${ITEM[.field...]}`             in a `foreach` step: the item -> Ref("item", ITEM, path)

A `foreach` step (fan-out) calls its service once per item of a list; elsewhere `${STEP}` of a
fan-out step is the list of its per-item outputs in item order (fan-in), and `${STEP.field}` the
list of that field. These values are what the runner and the Conductor and Airflow generators
read: nothing downstream re-parses the YAML.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from pesto_factory.schemas.errors import PestoError

__all__ = [
    "INPUT_TYPES",
    "NO_DEFAULT",
    "Pipeline",
    "PipelineInput",
    "Ref",
    "RefKind",
    "ServiceRef",
    "SpecError",
    "SpecProblem",
    "Step",
    "escape_token",
    "iter_refs",
]

#: Types a pipeline input may declare (Image: a URI string; ImageRef: {href, window?, margin?}).
INPUT_TYPES = ("Image", "ImageRef", "integer", "number", "string", "boolean", "object", "array")

RefKind = Literal["input", "step", "item"]


class _NoDefault:
    """Marks a pipeline input without a default (so it is required); `None` is a real default."""

    _instance: _NoDefault | None = None

    def __new__(cls) -> _NoDefault:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_DEFAULT"

    def __reduce__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()


@dataclass(frozen=True)
class SpecProblem:
    """One fault of a spec: where (JSON pointer, and the YAML line when known) and what."""

    pointer: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"at {self.pointer or '/'}"
        if self.line is not None:
            where += f" (line {self.line})"
        return f"{where}: {self.message}"


class SpecError(PestoError):
    """A pipeline spec that cannot be used; the message names the file and each fault's pointer."""

    status_code = 400

    def __init__(self, path: str | Path | None, problems: Sequence[SpecProblem], *,
                 hint: str | None = None) -> None:
        where = str(path) if path else "pipeline spec"
        shown = [str(problem) for problem in problems] or ["invalid"]
        if len(shown) == 1:
            message = f"{where}: {shown[0]}"
        else:
            message = f"{where}: {len(shown)} problems:\n  " + "\n  ".join(shown)
        super().__init__(message, hint=hint)
        self.path = str(path) if path else None
        self.problems = tuple(problems)


@dataclass(frozen=True)
class Ref:
    """A compiled `${...}` expression: what it names (`kind`, `name`) and the fields after it."""

    kind: RefKind
    name: str
    path: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The expression as written in a spec (canonical spacing)."""
        head = f"inputs.{self.name}" if self.kind == "input" else self.name
        return "${" + ".".join((head, *self.path)) + "}"

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class PipelineInput:
    """A declared pipeline input; required when it has no default."""

    name: str
    type: str
    default: Any = NO_DEFAULT
    description: str = ""

    @property
    def required(self) -> bool:
        return self.default is NO_DEFAULT


@dataclass(frozen=True)
class ServiceRef:
    """Where a service comes from: exactly one of a project folder, an image or a URL."""

    name: str
    project: Path | None = None  # absolute: resolved against the spec file's folder
    image: str | None = None
    url: str | None = None
    profiles: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        given = [value for value in (self.project, self.image, self.url) if value is not None]
        if len(given) != 1:
            raise ValueError(f"service {self.name!r}: give exactly one of project, image, url")

    @property
    def kind(self) -> Literal["project", "image", "url"]:
        if self.project is not None:
            return "project"
        return "image" if self.image is not None else "url"


@dataclass(frozen=True)
class Step:
    """One call of a service per run, or one per item of `foreach` (fan-out) named `item`."""

    id: str
    service: str
    inputs: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    foreach: Ref | None = None
    item: str | None = None  # the `as` name; set exactly when foreach is
    #: Airflow options of this step (schema: Airflow), over the pipeline's.
    airflow: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    description: str = ""
    index: int = 0  # position in the spec's `steps` list (for pointers)
    #: Conductor options of this step (schema: Step.conductor), over the pipeline's.
    conductor: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if (self.foreach is None) != (self.item is None):
            raise ValueError(f"step {self.id!r}: foreach and its item name go together")
        object.__setattr__(self, "inputs", MappingProxyType(dict(self.inputs)))
        object.__setattr__(self, "conductor", MappingProxyType(dict(self.conductor)))

    @property
    def fan_out(self) -> bool:
        return self.foreach is not None

    @property
    def pointer(self) -> str:
        return f"/steps/{self.index}"

    def refs(self) -> Iterator[tuple[str, Ref]]:
        """(JSON pointer, Ref) of every expression of the step, foreach first."""
        if self.foreach is not None:
            yield f"{self.pointer}/foreach", self.foreach
        yield from iter_refs(dict(self.inputs), f"{self.pointer}/inputs")

    @property
    def depends_on(self) -> tuple[str, ...]:
        """Ids of the steps whose outputs this step reads, in first-use order."""
        seen: dict[str, None] = {}
        for _, ref in self.refs():
            if ref.kind == "step":
                seen.setdefault(ref.name)
        return tuple(seen)


@dataclass(frozen=True)
class Pipeline:
    """A loaded, checked pipeline spec. `steps` keep the spec's order; `order` is a valid run
    order (dependencies first, the spec's order among independent steps)."""

    name: str
    steps: tuple[Step, ...]
    services: Mapping[str, ServiceRef]
    inputs: Mapping[str, PipelineInput] = field(default_factory=lambda: MappingProxyType({}))
    outputs: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    description: str = ""
    source: Path | None = None
    #: Airflow options of every step (schema: Airflow); steps may override them.
    airflow: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    order: tuple[str, ...] = ()
    #: run-level output location (s3://bucket/run-id/), for the embedded runner
    output: str | None = None
    #: JSON pointer -> YAML line, to point at the spec in later (type) checks.
    locations: Mapping[str, int] = field(default_factory=dict, repr=False, compare=False)
    #: Conductor options of every step (schema: Conductor), steps may override them.
    conductor: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        for name in ("services", "inputs", "outputs", "locations", "conductor"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        if not self.order:
            object.__setattr__(self, "order", tuple(step.id for step in self.steps))

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def ordered_steps(self) -> tuple[Step, ...]:
        return tuple(self.step(step_id) for step_id in self.order)

    def output_refs(self) -> Iterator[tuple[str, Ref]]:
        yield from iter_refs(dict(self.outputs), "/outputs")

    def problem(self, pointer: str, message: str) -> SpecProblem:
        """A problem at `pointer`, with the YAML line of it (or of its nearest parent)."""
        probe = pointer
        while probe and probe not in self.locations:
            probe = probe.rpartition("/")[0]
        return SpecProblem(pointer, message, self.locations.get(probe))


def escape_token(key: str) -> str:
    """A key as a JSON pointer token (RFC 6901: ~ -> ~0, / -> ~1)."""
    return key.replace("~", "~0").replace("/", "~1")


def iter_refs(value: Any, pointer: str = "") -> Iterator[tuple[str, Ref]]:
    """(JSON pointer, Ref) of every expression inside a compiled value, depth first."""
    if isinstance(value, Ref):
        yield pointer, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from iter_refs(item, f"{pointer}/{escape_token(str(key))}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from iter_refs(item, f"{pointer}/{index}")
