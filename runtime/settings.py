"""Settings of a running service, read from `PESTO_*` environment variables.

One `Settings` object per process, built on first use by `get_settings()` (never at import time)
so that tests and the CLI can set the environment first or override the dependency.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, get_args, get_origin

from pesto_factory.schemas.errors import BadRequest
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Settings", "SettingsError", "get_settings"]


def _split_list(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.replace(",", ":").split(":") if item.strip()]
    return value


class Settings(BaseSettings):
    """Everything an operator can tune; each field is the env var `PESTO_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="PESTO_", extra="ignore")

    service_dir: Path = Field(Path("."), description="The service project served.")
    profiles: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Active profiles, comma separated (e.g. dl,gpu).")
    workers: int = Field(1, ge=1, description="Worker processes running the algorithm.")
    queue: int = Field(
        64, ge=0, description="Jobs waiting for a worker before 503 + Retry-After (64: "
        "32 clients and more are served, not refused, by one worker).")
    job_timeout: float = Field(3600.0, gt=0, description="Seconds a job may run.")
    state_dir: Path = Field(Path(".pesto-state"), description="SQLite job store and results.")
    output_root: str | None = Field(
        None, description="Where image outputs are written: a folder (default "
        "STATE_DIR/outputs), or an object store prefix s3://bucket/prefix (gs:// too).")
    input_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Directories file:// inputs may be read from (':' or ',' separated); "
        "the output root is always readable.")
    remote_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma separated: the http(s) hosts inputs may be read from (host: its "
        "default port; host:port: that port; '*': any, except loopback, link-local and "
        "metadata addresses, which need their own entry); empty: no http(s) input. Also the "
        "only s3/gs buckets inputs may name, when set.")
    output_compression: Literal["zstd", "none"] = Field(
        "zstd", description="Codec of image outputs (lossless either way): zstd, or none.")
    result_retention: float = Field(
        7 * 24 * 3600.0, ge=0, description="Seconds finished async jobs are kept (0: forever).")
    sync_retention: float = Field(
        3600.0, ge=0, description="Seconds the image files of synchronous calls are kept "
        "(their file:// URIs are read by the next step of a chain, soon after).")
    spool_retention: float = Field(
        3600.0, ge=0, description="Seconds a spooled raw request body is kept when no job "
        "waits for it any more (a worker removes the ones it reads at once).")
    max_body_bytes: int = Field(512 * 1024 * 1024, ge=1, description="Largest request body.")
    max_json_bytes: int = Field(
        64 * 1024 * 1024, ge=1,
        description="Largest JSON request body (it is parsed in memory; raw image bodies are "
        "streamed to disk and bounded by MAX_BODY_BYTES only).")
    max_pixels: int = Field(
        2**28, ge=1, description="Most pixels (width x height) of one input image read, "
        "checked from its header before any pixel is decoded (413 over it).")
    max_image_bytes: int = Field(
        2**30, ge=1, description="Most bytes one input image takes once decoded (width x "
        "height x bands x sample size), checked from its header (413 over it).")
    worker_memory: int | None = Field(
        None, ge=0, description="Bytes of memory (RSS) a worker's process tree may use; over "
        "it, the job fails 'out of memory' and the worker is replaced. Default: 3/4 of the "
        "machine's memory shared by the workers; 0: no limit.")
    api_token: str | None = Field(None, description="Bearer token required on every route but health.")
    public_url: str | None = Field(
        None, description="Base URL for links, when the service sits behind a proxy.")

    @field_validator("profiles", "input_roots", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return _split_list(value)

    def for_service(self, name: str) -> Settings:
        """These settings for one service: its own job store unless PESTO_STATE_DIR names one.

        Services started from one folder would otherwise share .pesto-state/jobs.sqlite: one
        would list the other's jobs, and its restart would fail the other's running jobs.
        """
        if "state_dir" in self.model_fields_set:
            return self
        folder = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "service"
        return self.model_copy(update={"state_dir": self.state_dir / folder})

    @field_validator("remote_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        """Commas only: an entry may be host:port."""
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @property
    def worker_memory_limit(self) -> int | None:
        """PESTO_WORKER_MEMORY in bytes, its default computed; None for no limit."""
        if self.worker_memory is not None:
            return self.worker_memory or None
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            return None
        return total * 3 // 4 // self.workers

    @property
    def outputs_dir(self) -> Path:
        """The local folder outputs are written to (staged there when they go to a store)."""
        if self.output_root and not self.output_uri:
            return Path(self.output_root).expanduser().resolve()
        return (self.state_dir / "outputs").resolve()

    @property
    def output_uri(self) -> str | None:
        """The object store prefix outputs are uploaded under (s3://bucket/prefix), if any."""
        root = (self.output_root or "").strip()
        if root.split("://", 1)[0].lower() in ("s3", "gs") and "://" in root:
            return root.rstrip("/")
        return None

    @property
    def output_bucket(self) -> str | None:
        """The bucket of `output_uri`: a service may always read what it wrote."""
        return self.output_uri.split("://", 1)[1].split("/", 1)[0] if self.output_uri else None

    @property
    def readable_roots(self) -> list[Path]:
        return [root.resolve() for root in self.input_roots] + [self.outputs_dir]


class SettingsError(BadRequest):
    """A PESTO_* variable has a value the service cannot run with; names the variable."""


def _explain(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        name = "PESTO_" + "_".join(str(part) for part in item["loc"][:1]).upper()
        value = item.get("input")
        field = Settings.model_fields.get(str(item["loc"][0])) if item["loc"] else None
        allowed = ""
        if field is not None and get_origin(field.annotation) is Literal:
            allowed = f" (allowed: {', '.join(map(str, get_args(field.annotation)))})"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{name}={value!s}: {message}{allowed}")
    return "; ".join(lines)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings; a bad PESTO_* value raises SettingsError naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(f"invalid setting: {_explain(exc)}") from None
