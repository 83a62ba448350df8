"""Fixtures of the object storage tests: one SeaweedFS server per session, AWS variables set
for GDAL in the test process, and a fresh key prefix per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.storage.seaweed import BUCKET, SeaweedFS, start_seaweedfs

__all__ = ["BUCKET"]

_AWS_VARIABLES = ("AWS_S3_ENDPOINT", "AWS_HTTPS", "AWS_VIRTUAL_HOSTING", "AWS_REGION",
                  "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    server = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    yield server
    server.stop()


@pytest.fixture
def s3_env(seaweed: SeaweedFS) -> Iterator[dict[str, str]]:
    """The writer's AWS variables, set in this process (GDAL reads the environment) and given
    to services the test starts; restored afterwards."""
    saved = {name: os.environ.get(name) for name in _AWS_VARIABLES}
    env = seaweed.env("writer")
    for name in _AWS_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(env)
    yield env
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own in BUCKET."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def s3_root(prefix: str) -> str:
    return f"s3://{BUCKET}/{prefix}"
