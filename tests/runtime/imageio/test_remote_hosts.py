"""PESTO_REMOTE_HOSTS: http(s) inputs only from listed hosts (host, host:port or `*`);
loopback, link-local and metadata addresses only when listed themselves; buckets when set."""

from __future__ import annotations

import pytest
from pesto_factory.runtime.errors import Forbidden
from pesto_factory.runtime.imageio import InputPolicy, check_uri
from pesto_factory.runtime.settings import Settings


def policy(*hosts: str) -> InputPolicy:
    return InputPolicy(readable_roots=(), remote_hosts=hosts or None)


@pytest.mark.parametrize(("hosts", "uri"), [
    (("DATA.example.org", "my-bucket"), "https://data.example.org/scene.tif"),
    (("data.example.org",), "http://data.example.org:80/scene.tif"),
    (("data.example.org:8080",), "http://data.example.org:8080/scene.tif"),
    (("*",), "https://anything.example.net/x.tif"),
    (("*",), "http://10.1.2.3:9000/x.tif"),
    (("127.0.0.1:9000",), "http://127.0.0.1:9000/x.tif"),
    (("[::1]:9000",), "http://[::1]:9000/x.tif"),
    (("my-bucket",), "s3://my-bucket/scenes/a.tif"),
])
def test_allowed(hosts, uri: str) -> None:
    check_uri(uri, policy(*hosts))


@pytest.mark.parametrize(("hosts", "uri", "says"), [
    ((), "https://data.example.org/scene.tif", "disabled"),
    (("data.example.org",), "http://data.example.org:8080/x.tif", "not one of"),
    (("data.example.org:8080",), "http://data.example.org:8081/x.tif", "not one of"),
    (("data.example.org:8080",), "http://data.example.org/x.tif", "not one of"),
    (("data.example.org",), "https://data.example.org.evil.net/x.tif", "not one of"),
    (("*",), "http://169.254.169.254/latest/meta-data", "metadata"),
    (("*",), "http://metadata.google.internal/computeMetadata/v1/", "metadata"),
    (("*",), "http://127.0.0.1:8000/api/v1/metrics", "loopback"),
    (("*",), "http://localhost/x.tif", "loopback"),
    (("*",), "http://[::1]/x.tif", "loopback"),
    (("*",), "http://[::ffff:127.0.0.1]/x.tif", "loopback"),
    (("*",), "http://0.0.0.0:8000/x.tif", "loopback"),
    (("127.0.0.1:9000",), "http://127.0.0.1:9001/x.tif", "loopback"),
])
def test_refused(hosts, uri: str, says: str) -> None:
    with pytest.raises(Forbidden, match=says) as caught:
        check_uri(uri, policy(*hosts))
    assert "PESTO_REMOTE_HOSTS" in caught.value.message + caught.value.hint


def test_buckets_are_checked_only_when_hosts_are_set() -> None:
    check_uri("s3://any-bucket/k.tif", policy())
    with pytest.raises(Forbidden):
        check_uri("gs://other-bucket/x.tif", policy("data.example.org", "my-bucket"))


def test_settings_keep_host_port_entries(monkeypatch) -> None:
    monkeypatch.setenv("PESTO_REMOTE_HOSTS", "a.example, b-bucket,127.0.0.1:9000, *")
    assert InputPolicy.from_settings(Settings()).remote_hosts == (
        "a.example", "b-bucket", "127.0.0.1:9000", "*")
    monkeypatch.setenv("PESTO_REMOTE_HOSTS", "")
    assert InputPolicy.from_settings(Settings()).remote_hosts is None
