"""Describe documents: one typed view, and one way to collect a pipeline's.

A service's describe document (`GET /api/v1/describe`, a build's `service.json`) holds its
input schema and its output schema (geoprocessing: `output.content["application/json"]
.schema`), each with the shared definitions its `$ref`s name bundled in. `ServiceDescription`
reads them once, and `resolve_schema` is the one `$ref` follower (the schema's own definitions first,
then the shared ones), for the type checker and both generators alike.

`collect_describes` gathers the documents of a pipeline's services, each from a describe JSON
file, a running service's URL (through the REST client) or a project folder. A project folder
is described by the runtime (`pesto-runtime describe FOLDER`, in a subprocess: the base never
imports the runtime) unless the caller passes its own `describe_project`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pesto_factory.schemas import load_schema
from pesto_factory.schemas.errors import PestoError

__all__ = ["DescribeError", "ServiceDescription", "collect_describes", "describe_project",
           "describe_view", "resolve_schema", "shared_definitions"]

_Schema = Mapping[str, Any]
_MAX_REFS = 16  # a $ref chain longer than this is a cycle


class DescribeError(PestoError):
    """A describe document could not be had or read; names the service and where from."""


@lru_cache(maxsize=1)
def shared_definitions() -> dict[str, Any]:
    """The shared data types (schemas/definitions.json) a `$ref` falls back to."""
    return load_schema("definitions")


def resolve_schema(schema: Any, root: _Schema) -> tuple[_Schema | None, _Schema]:
    """`schema` with its `$ref`s followed inside `root` (a schema with definitions), then in
    the shared definitions; returns (schema or None when unknown, the root it was found in)."""
    for _ in range(_MAX_REFS):
        if not isinstance(schema, Mapping):
            return None, root
        if "$ref" not in schema:
            return schema, root
        target = str(schema["$ref"])
        if not target.startswith("#/"):
            return None, root
        found = _pointer(root, target)
        if found is None and target.startswith("#/definitions/"):
            root = shared_definitions()
            found = _pointer(root, target)
        schema = found
    return None, root


def _pointer(root: Any, target: str) -> Any:
    for part in target[2:].split("/"):
        if not isinstance(root, Mapping) or part not in root:
            return None
        root = root[part]
    return root


@dataclass(frozen=True, eq=False)
class ServiceDescription(Mapping[str, Any]):
    """A describe document read once: its input schema and output schema, typed.

    Still the document itself (a read-only Mapping), so code written for plain describe
    dicts takes a view unchanged.
    """

    document: Mapping[str, Any]
    source: str = "describe document"  # where it came from, for messages

    def __getitem__(self, key: str) -> Any:
        return self.document[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.document)

    def __len__(self) -> int:
        return len(self.document)

    @property
    def name(self) -> str | None:
        value = self.document.get("name")
        return value if isinstance(value, str) else None

    @property
    def input_schema(self) -> _Schema:
        """The input JSON Schema ({} when absent)."""
        schema = self.document.get("input")
        return schema if isinstance(schema, Mapping) else {}

    @property
    def output_schema(self) -> _Schema:
        """The output JSON Schema (geoprocessing: output.content["application/json"].schema)."""
        output = self.document.get("output")
        if not isinstance(output, Mapping):
            return {}
        content = output.get("content", {}).get("application/json", {})
        schema = content.get("schema") if isinstance(content, Mapping) else None
        return schema if isinstance(schema, Mapping) else output.get("schema", {}) or {}

    def properties(self, which: str) -> dict[str, _Schema]:
        """The properties of the "input" or "output" schema, each with its `$ref` followed."""
        schema = self.input_schema if which == "input" else self.output_schema
        return {name: resolve_schema(sub, schema)[0] or {}
                for name, sub in (schema.get("properties") or {}).items()}


def describe_view(document: ServiceDescription | Mapping[str, Any],
                  source: str = "describe document") -> ServiceDescription:
    """`document` as a ServiceDescription (a view is returned as it is)."""
    if isinstance(document, ServiceDescription):
        return document
    if not isinstance(document, Mapping):
        raise DescribeError(f"{source}: a describe document is a JSON object, "
                            f"not {type(document).__name__}")
    return ServiceDescription(document, source)


def describe_project(project: Path, profiles: Sequence[str] = ()) -> dict[str, Any]:
    """A project folder's describe document, built by the runtime in a subprocess
    (`pesto-runtime describe`): needs the runtime installed (`pesto-factory[runtime]`)."""
    command = [sys.executable, "-m", "pesto_factory.runtime.cli", "describe", str(project)]
    for profile in profiles:
        command += ["--profile", profile]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DescribeError(f"project {project}: cannot run pesto-runtime describe: {exc}") from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        if "No module named" in reason:
            reason = "the runtime is not installed here (pip install 'pesto-factory[runtime]')"
        raise DescribeError(f"project {project}: cannot describe it: {reason}",
                            hint="or give the service's describe JSON file, or a running "
                                 "service's URL")
    try:
        return json.loads(done.stdout)
    except ValueError as exc:
        raise DescribeError(f"project {project}: pesto-runtime describe printed no JSON "
                            f"({exc})") from None


@dataclass(frozen=True)
class _Sources:
    files: Mapping[str, Path] = field(default_factory=dict)
    urls: Mapping[str, str] = field(default_factory=dict)
    profiles: Mapping[str, Sequence[str]] = field(default_factory=dict)


def collect_describes(
    services: Mapping[str, Any], *,
    files: Mapping[str, str | Path] | None = None,
    urls: Mapping[str, str] | None = None,
    profiles: Mapping[str, Sequence[str]] | None = None,
    tokens: Mapping[str, str] | None = None,
    describe_project: Callable[[Path, tuple[str, ...]], Mapping[str, Any]] | None = None,
    only_projects: bool = False,
) -> dict[str, ServiceDescription]:
    """The describe documents of `services` (a pipeline's name -> ServiceRef), by name.

    Each comes from, in order: `files[name]` (a describe JSON file), `urls[name]` (a running
    service), the ref's own `url`, or its `project` folder (with `profiles[name]`, else the
    ref's profiles); `tokens[name]` is sent to that service's URL. `only_projects` skips services that are not project folders (the
    generators need a document for every service; the checks of `packager pipeline check`
    only for the ones they can build). An `image:` service needs a file or a URL.
    """
    sources = _Sources(
        {name: Path(path) for name, path in (files or {}).items()}, dict(urls or {}),
        dict(profiles or {}))
    project_describer = describe_project or _default_describe_project
    found: dict[str, ServiceDescription] = {}
    for name, ref in services.items():
        if only_projects and getattr(ref, "project", None) is None:
            continue
        found[name] = _one(name, ref, sources, (tokens or {}).get(name), project_describer)
    return found


def _default_describe_project(project: Path, profiles: tuple[str, ...]) -> Mapping[str, Any]:
    return describe_project(project, profiles)


def _one(name: str, ref: Any, sources: _Sources, token: str | None,
         project_describer: Callable[[Path, tuple[str, ...]], Mapping[str, Any]]
         ) -> ServiceDescription:
    if name in sources.files:
        path = sources.files[name]
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DescribeError(f"service {name!r}: cannot read its describe file {path}: "
                                f"{exc}") from None
        return describe_view(document, str(path))
    url = sources.urls.get(name) or getattr(ref, "url", None)
    if url is not None:
        from pesto_factory.adapters.client import ServiceClient

        with ServiceClient(url, token=token) as client:
            return describe_view(client.describe(), url)
    project = getattr(ref, "project", None)
    if project is not None:
        chosen = tuple(sources.profiles.get(name, getattr(ref, "profiles", ())))
        return describe_view(project_describer(Path(project), chosen), str(project))
    raise DescribeError(f"service {name!r} is an image: give its describe document (a JSON "
                        "file) or a running service's URL")
