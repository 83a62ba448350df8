"""What a run leaves in its output folder: summary.json and the final images under readable names.

    OUTPUT/summary.json      pipeline, status, inputs, per step (service, calls, seconds,
                             status), outputs, files, total seconds, error
    OUTPUT/mask.tif ...      each pipeline output that is a file:// image, named after the output
    OUTPUT/services/NAME/    each local service's state, outputs and log

With a run-level object store (s3://bucket/run-id), the images stay in the store: `files`
lists their s3:// URIs (`object_outputs`) and `store` names the run's prefix.

Every file is written under a temporary name and renamed, and the images are published only
when the run succeeded: a FAILED summary never sits beside outputs that look like success.
Files a previous run published in the same folder are removed when a new run starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pesto_factory.adapters.local.engine import StepRecord

__all__ = ["OBJECT_SCHEMES", "RunSummary", "SUMMARY_NAME", "clear_previous_run",
           "object_outputs", "publish_outputs", "write_summary"]

#: URI schemes of object stores a run may write to.
OBJECT_SCHEMES = ("s3://", "gs://")

SUMMARY_NAME = "summary.json"


@dataclass(frozen=True)
class RunSummary:
    """The record of one run, as written to summary.json."""

    pipeline: str
    status: str  # RUNNING | SUCCEEDED | FAILED
    inputs: Mapping[str, Any]
    steps: tuple[StepRecord, ...] = ()
    outputs: Mapping[str, Any] = field(default_factory=dict)
    files: Mapping[str, Any] = field(default_factory=dict)  # output name -> file name(s)
    services: Mapping[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    error: Mapping[str, Any] | None = None  # message (+ step, item, service)
    spec: str | None = None
    output_dir: Path | None = None
    store: str | None = None  # the run's object store prefix, when it has one

    def to_json(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline, "spec": self.spec, "status": self.status,
            "inputs": dict(self.inputs), "services": dict(self.services),
            "steps": [asdict(record) for record in self.steps],
            "outputs": dict(self.outputs), "files": dict(self.files),
            "seconds": round(self.seconds, 3),
            "error": dict(self.error) if self.error else None,
            **({"store": self.store} if self.store else {}),
        }


def write_summary(summary: RunSummary, output_dir: Path) -> Path:
    path = output_dir / SUMMARY_NAME
    _write_atomically(path, (json.dumps(summary.to_json(), indent=2) + "\n").encode())
    return path


def clear_previous_run(output_dir: Path) -> None:
    """Remove the summary and the files an earlier run published here (nothing else)."""
    path = output_dir / SUMMARY_NAME
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    files = previous.get("files") if isinstance(previous, dict) else None
    for value in (files or {}).values():
        for name in value if isinstance(value, list) else [value]:
            if isinstance(name, str) and name == Path(name).name:  # only plain names here
                (output_dir / name).unlink(missing_ok=True)
    path.unlink(missing_ok=True)


def publish_outputs(outputs: Mapping[str, Any], output_dir: Path) -> dict[str, Any]:
    """Link (or copy) each output that is a file:// URI of an existing file, or a list of
    them, into `output_dir` as NAME.ext (NAME_0.ext, ... for a list). Returns the names."""
    published: dict[str, Any] = {}
    for name, value in outputs.items():
        if isinstance(value, str) and (source := _local_file(value)) is not None:
            published[name] = _publish(source, output_dir / f"{name}{source.suffix}")
        elif isinstance(value, list) and value and all(
                isinstance(item, str) and _local_file(item) for item in value):
            published[name] = [
                _publish(_local_file(item), output_dir / f"{name}_{index}{_local_file(item).suffix}")
                for index, item in enumerate(value)]
    return published


def object_outputs(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The outputs that are objects in a store (s3://, gs:// URIs, or lists of them)."""
    def is_object(value: Any) -> bool:
        return isinstance(value, str) and value.startswith(OBJECT_SCHEMES)

    return {name: value for name, value in outputs.items()
            if is_object(value) or (isinstance(value, list) and value
                                    and all(is_object(item) for item in value))}


def _local_file(uri: str) -> Path | None:
    if not uri.startswith("file://"):
        return None
    path = Path(unquote(urlparse(uri).path))
    return path if path.is_file() else None


def _publish(source: Path | None, target: Path) -> str:
    assert source is not None
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        try:
            os.link(source, partial)  # same file system (the usual case): no copy
        except OSError:
            shutil.copy2(source, partial)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target.name


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
