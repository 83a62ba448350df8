"""PESTO_REMOTE_HOSTS: when set, requests may name only the listed remote hosts and buckets."""

from __future__ import annotations

import pytest
from pesto_factory.runtime.errors import Forbidden
from pesto_factory.runtime.imageio import InputPolicy, check_uri
from pesto_factory.runtime.settings import Settings


@pytest.mark.parametrize("uri", [
    "https://data.example.org/scene.tif",
    "http://data.example.org:8080/scene.tif",
    "s3://my-bucket/scenes/a.tif",
])
def test_listed_hosts_and_buckets_pass(uri: str) -> None:
    policy = InputPolicy(readable_roots=(), remote_hosts=("DATA.example.org", "my-bucket"))
    check_uri(uri, policy)


@pytest.mark.parametrize("uri", [
    "http://169.254.169.254/latest/meta-data",
    "https://data.example.org.evil.net/x.tif",
    "gs://other-bucket/x.tif",
])
def test_other_hosts_are_forbidden(uri: str) -> None:
    policy = InputPolicy(readable_roots=(), remote_hosts=("data.example.org", "my-bucket"))
    with pytest.raises(Forbidden, match="PESTO_REMOTE_HOSTS|allowed remote sources"):
        check_uri(uri, policy)


def test_no_list_means_any_host_and_settings_parse_the_list(monkeypatch) -> None:
    check_uri("http://anywhere.example/x.tif", InputPolicy(readable_roots=()))
    monkeypatch.setenv("PESTO_REMOTE_HOSTS", "a.example, b-bucket")
    policy = InputPolicy.from_settings(Settings())
    assert policy.remote_hosts == ("a.example", "b-bucket")
    monkeypatch.setenv("PESTO_REMOTE_HOSTS", "")
    assert InputPolicy.from_settings(Settings()).remote_hosts is None
