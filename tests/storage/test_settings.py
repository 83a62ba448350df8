"""PESTO_OUTPUT_ROOT as an object store prefix: where outputs are staged, which prefix a job's
images go under, and the output bucket readable even when PESTO_REMOTE_HOSTS lists others."""

from __future__ import annotations

from pathlib import Path

from pesto_factory.runtime.imageio import InputPolicy
from pesto_factory.runtime.imageio.objectstore import ObjectLocation, endpoint_of, from_vsi
from pesto_factory.runtime.settings import Settings


def test_an_s3_output_root_stages_locally_and_names_its_bucket(tmp_path: Path):
    settings = Settings(state_dir=tmp_path, output_root="s3://runs/prod/", remote_hosts="scenes")
    assert settings.output_uri == "s3://runs/prod" and settings.output_bucket == "runs"
    assert settings.outputs_dir == (tmp_path / "outputs").resolve()
    assert InputPolicy.from_settings(settings).remote_hosts == ("scenes", "runs")


def test_a_folder_output_root_is_unchanged(tmp_path: Path):
    settings = Settings(state_dir=tmp_path, output_root=str(tmp_path / "out"))
    assert settings.output_uri is None and settings.outputs_dir == (tmp_path / "out").resolve()
    assert InputPolicy.from_settings(settings).remote_hosts is None


def test_object_locations(monkeypatch):
    root = ObjectLocation.parse("s3://runs/")
    assert root.child("job-1", "mask.tif").uri == "s3://runs/job-1/mask.tif"
    assert from_vsi("/vsigs/b/k/x.tif") == ObjectLocation("gs", "b", "k/x.tif")
    assert from_vsi("/tmp/x.tif") is None
    monkeypatch.setenv("AWS_S3_ENDPOINT", "http://minio.local:9000/")
    assert endpoint_of("s3") == "minio.local:9000"
    monkeypatch.delenv("AWS_S3_ENDPOINT")
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    assert endpoint_of("s3") == "s3.eu-west-3.amazonaws.com:443"
