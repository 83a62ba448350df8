"""GDAL against a real S3 server: reads, atomic uploads, deletes, and each failure named."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pesto_factory.runtime.errors import Forbidden, ServiceUnavailable, UnprocessableInput
from pesto_factory.runtime.imageio.objectstore import (
    BucketNotFound,
    ObjectLocation,
    StoreAccessDenied,
    StoreUnavailable,
    _gdal,
    delete_object,
    delete_prefix,
    explain_read_failure,
    iter_object,
    upload,
)
from pesto_factory.runtime.imageio.writing import write_image

from tests.storage.conftest import BUCKET


@pytest.fixture
def cog(tmp_path: Path) -> tuple[Path, np.ndarray]:
    data = np.random.default_rng(1).integers(0, 4000, (2, 300, 200), dtype=np.uint16)
    return write_image(data, tmp_path / "a.tif"), data


def test_vsis3_reads_what_was_uploaded(s3_env, seaweed, prefix, cog):
    path, data = cog
    target = ObjectLocation("s3", BUCKET, f"{prefix}/a.tif")
    upload(path, target)
    assert seaweed.keys(BUCKET, prefix) == [f"{prefix}/a.tif"]
    with rasterio.open(target.vsi) as src:
        assert (src.read() == data).all()
    assert b"".join(iter_object(target)) == path.read_bytes()


def test_delete_object_and_prefix(s3_env, seaweed, prefix, cog):
    path, _ = cog
    for name in ("a.tif", "b.tif", "sub/c.tif"):
        upload(path, ObjectLocation("s3", BUCKET, f"{prefix}/job/{name}"))
    upload(path, ObjectLocation("s3", BUCKET, f"{prefix}/other.tif"))
    assert delete_object(ObjectLocation("s3", BUCKET, f"{prefix}/job/a.tif"))
    assert delete_prefix(ObjectLocation("s3", BUCKET, f"{prefix}/job"))
    assert seaweed.keys(BUCKET, prefix) == [f"{prefix}/other.tif"]
    assert delete_prefix(ObjectLocation("s3", BUCKET, f"{prefix}/nothing-here"))


def test_write_without_write_access_names_the_bucket(seaweed, s3_env, prefix, cog):
    os.environ.update(seaweed.env("reader"))
    target = ObjectLocation("s3", BUCKET, f"{prefix}/denied.tif")
    with pytest.raises(StoreAccessDenied, match=f"bucket '{BUCKET}'") as caught:
        upload(cog[0], target)
    assert isinstance(caught.value, Forbidden) and caught.value.status_code == 403
    assert seaweed.keys(BUCKET, prefix) == []


def test_write_to_a_missing_bucket(s3_env, cog):
    with pytest.raises(BucketNotFound, match="bucket 'no-such-bucket' does not exist"):
        upload(cog[0], ObjectLocation("s3", "no-such-bucket", "x/a.tif"))


def test_unreachable_store_is_retryable_and_names_the_endpoint(s3_env, cog):
    os.environ["AWS_S3_ENDPOINT"] = "127.0.0.1:1"
    with pytest.raises(StoreUnavailable, match=r"127\.0\.0\.1:1 cannot be reached") as caught:
        upload(cog[0], ObjectLocation("s3", BUCKET, "x/a.tif"))
    assert isinstance(caught.value, ServiceUnavailable) and caught.value.retryable


@pytest.mark.parametrize(("identity", "key", "error", "named"), [
    ("writer", "missing.tif", UnprocessableInput, "object '{prefix}/missing.tif'"),
    ("stranger", "a.tif", StoreAccessDenied, f"bucket '{BUCKET}'"),
])
def test_read_failures(seaweed, s3_env, prefix, cog, identity, key, error, named):
    upload(cog[0], ObjectLocation("s3", BUCKET, f"{prefix}/a.tif"))
    os.environ.update(seaweed.env(identity))
    _gdal().VSICurlClearCache()  # what this process saw as the writer does not hold any more
    location = ObjectLocation("s3", BUCKET, f"{prefix}/{key}")
    with pytest.raises(rasterio.errors.RasterioIOError) as caught:
        rasterio.open(location.vsi)
    explained = explain_read_failure(location, caught.value)
    assert type(explained) is error or isinstance(explained, error)
    assert named.format(prefix=prefix) in explained.message


def test_retention_deletes_the_jobs_objects(s3_env, seaweed, prefix, cog, tmp_path):
    import time

    from pesto_factory.runtime.jobs.models import JobStatus
    from pesto_factory.runtime.jobs.store import JobStore

    store = JobStore(tmp_path / "jobs.sqlite", object_root=f"s3://{BUCKET}/{prefix}")
    for job_id in ("old", "kept"):
        store.add(job_id, tmp_path / job_id)
        upload(cog[0], ObjectLocation("s3", BUCKET, f"{prefix}/{job_id}/a.tif"))
    store.finish("old", JobStatus.SUCCEEDED)
    assert store.purge_finished_before(time.time() + 1) == 1
    store.close()  # waits for the background deletions
    assert seaweed.keys(BUCKET, prefix) == [f"{prefix}/kept/a.tif"]
