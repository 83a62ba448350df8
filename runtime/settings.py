"""Settings of a running service, read from `PESTO_*` environment variables.

One `Settings` object per process, built on first use by `get_settings()` (never at import time)
so that tests and the CLI can set the environment first or override the dependency.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


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
    queue: int = Field(16, ge=0, description="Jobs waiting for a worker before 503.")
    job_timeout: float = Field(3600.0, gt=0, description="Seconds a job may run.")
    state_dir: Path = Field(Path(".pesto-state"), description="SQLite job store and results.")
    output_root: Path | None = Field(
        None, description="Where image outputs are written (default STATE_DIR/outputs).")
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
    max_body_bytes: int = Field(512 * 1024 * 1024, ge=1, description="Largest request body.")
    api_token: str | None = Field(None, description="Bearer token required on every route but health.")
    public_url: str | None = Field(
        None, description="Base URL for links, when the service sits behind a proxy.")

    @field_validator("profiles", "input_roots", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("remote_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        """Commas only: an entry may be host:port."""
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @property
    def outputs_dir(self) -> Path:
        return (self.output_root or self.state_dir / "outputs").resolve()

    @property
    def readable_roots(self) -> list[Path]:
        return [root.resolve() for root in self.input_roots] + [self.outputs_dir]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
