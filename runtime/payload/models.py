"""Values that cross the service/worker boundary with a payload or a result."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, NamedTuple


@dataclasses.dataclass(frozen=True, slots=True)
class RawImage:
    """An image file sent as a raw request body, read as such in the worker.

    Either its bytes, or (`path`) the file the service spooled them to: a large body then
    reaches the worker as a path instead of megabytes pushed through the job pipe. The worker
    removes a spooled file once read.
    """

    data: bytes = b""
    path: str | None = None

    def __repr__(self) -> str:
        return f"RawImage(<{self.path or f'{len(self.data)} bytes'}>)"

    def read_bytes(self) -> bytes:
        return Path(self.path).read_bytes() if self.path else self.data


@dataclasses.dataclass(frozen=True)
class OutputFile:
    """A file written for a job's result, kept with the job: a local path, or the URI of the
    object it was uploaded to (s3://bucket/key)."""

    name: str
    path: Path | str
    media_type: str


class EncodedOutputs(NamedTuple):
    """The JSON answer of a job and the files written for it."""

    value: Any
    files: tuple[OutputFile, ...]


