"""Fixtures of the object storage tests: one SeaweedFS server per session, AWS variables set
for GDAL in the test process, and a fresh key prefix per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import REPO, RunningService, start_service
from tests.storage.seaweed import BUCKET, SeaweedFS, start_seaweedfs

__all__ = ["BUCKET", "aws_environment", "start_private_services"]

_AWS_VARIABLES = ("AWS_S3_ENDPOINT", "AWS_HTTPS", "AWS_VIRTUAL_HOSTING", "AWS_REGION",
                  "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    server = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    yield server
    server.stop()


@contextmanager
def aws_environment(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """These AWS variables (and no other) in this process for a block: GDAL reads them."""
    saved = {name: os.environ.get(name) for name in (*_AWS_VARIABLES, *env)}
    for name in _AWS_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(env)
    try:
        yield env
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def s3_env(seaweed: SeaweedFS) -> Iterator[dict[str, str]]:
    """The writer's AWS variables, set in this process and given to services the test starts."""
    with aws_environment(seaweed.env("writer")) as env:
        yield env


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own in BUCKET."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def s3_root(prefix: str) -> str:
    return f"s3://{BUCKET}/{prefix}"


@pytest.fixture
def crop(tmp_path: Path) -> Path:
    """The real Sentinel-2 crop (shipped in examples/data/) as a local GeoTIFF of the test's."""
    from examples.scenes import copy_sentinel2_crop

    return copy_sentinel2_crop(tmp_path / "crop").image


def start_private_services(seaweed: SeaweedFS, root: Path, prefix: str) -> dict[str, RunningService]:
    """The chain's three services, each with a folder of its own and its images under
    s3://BUCKET/<prefix>/<service>/; none may read a local file (no input root)."""
    started: dict[str, RunningService] = {}
    try:
        for name, workers in (("tiling", 1), ("cloud-detection", 2), ("merge", 1)):
            started[name] = start_service(
                REPO / "examples" / name, root / name / "state",
                env={**seaweed.env("writer"), "PESTO_INPUT_ROOTS": "",
                     "PESTO_OUTPUT_ROOT": f"s3://{BUCKET}/{prefix}/{name}",
                     "PESTO_REMOTE_HOSTS": BUCKET, "PESTO_WORKERS": str(workers)})
    except BaseException:
        for service in started.values():
            service.stop(kill=True)
        raise
    return started
