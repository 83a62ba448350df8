"""Which locations a request may name: schemes, input roots, `..` and symlink escapes."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from pesto_factory.runtime.errors import BadRequest, Forbidden
from pesto_factory.runtime.imageio import (
    InputPolicy,
    check_uri,
    display_uri,
    is_inline,
    resolve_uri,
)


def test_file_uri_and_bare_path_under_a_root_resolve_to_the_real_path(root, policy):
    target = root / "sub dir" / "a.tif"
    target.parent.mkdir()
    target.write_bytes(b"")
    assert resolve_uri(target.as_uri(), policy) == str(target)  # percent-encoded space
    assert resolve_uri(str(target), policy) == str(target)
    assert resolve_uri("file://localhost" + str(target), policy) == str(target)
    check_uri(target.as_uri(), policy)


def test_a_file_need_not_exist_to_pass_the_check(root, policy):
    check_uri((root / "later.tif").as_uri(), policy)  # existence is the reader's business


def test_outside_the_roots_is_forbidden_naming_path_and_roots(root, policy):
    with pytest.raises(Forbidden) as caught:
        check_uri("file:///etc/passwd", policy, field="image")
    message = caught.value.message
    assert "/etc/passwd" in message and str(root) in message and "'image'" in message
    assert caught.value.status_code == 403


def test_dot_dot_escape_is_refused(root, policy):
    with pytest.raises(Forbidden, match="resolves to"):
        check_uri(f"{root}/../../../etc/passwd", policy)
    with pytest.raises(Forbidden):
        check_uri(f"file://{root}/%2E%2E/secret.tif", policy)


def test_symlink_escape_is_refused_but_a_symlink_inside_is_fine(tmp_path, root, policy):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.tif").write_bytes(b"x")
    os.symlink(outside, root / "link")
    with pytest.raises(Forbidden, match="outside"):
        check_uri((root / "link" / "secret.tif").as_uri(), policy)
    os.symlink(root / "real.tif", root / "alias.tif")
    assert resolve_uri(str(root / "alias.tif"), policy) == str(root / "real.tif")


def test_a_root_reached_through_a_symlink_is_resolved(tmp_path, root):
    os.symlink(root, tmp_path / "root-link")
    policy = InputPolicy(readable_roots=(tmp_path / "root-link",))
    assert policy.readable_roots == (root,)
    check_uri(str(root / "a.tif"), policy)


def test_no_roots_forbids_every_file():
    with pytest.raises(Forbidden, match="none configured"):
        check_uri("/data/a.tif", InputPolicy(readable_roots=()))


def test_gdal_virtual_paths_are_not_local_files(tmp_path):
    policy = InputPolicy(readable_roots=(Path("/"),))
    with pytest.raises(Forbidden, match="virtual"):
        check_uri("/vsicurl/http://example.org/a.tif", policy)


@pytest.mark.parametrize(("uri", "expected"), [
    ("http://example.org/a.tif", "/vsicurl/http://example.org/a.tif"),
    ("https://example.org/a.tif?X-Amz-Signature=s", "/vsicurl/https://example.org/a.tif?X-Amz-Signature=s"),
    ("s3://bucket/scenes/a.tif", "/vsis3/bucket/scenes/a.tif"),
    ("S3://bucket/a.tif", "/vsis3/bucket/a.tif"),
    ("gs://bucket/a.tif", "/vsigs/bucket/a.tif"),
])
def test_remote_schemes_map_to_gdal_virtual_file_systems(uri, expected):
    assert resolve_uri(uri, InputPolicy(readable_roots=(), remote_hosts=("*",))) == expected


@pytest.mark.parametrize("uri", ["ftp://host/a.tif", "data:image/tiff;base64,AAAA",
                                 "sftp://h/a", "netcdf:/a.nc", "vsicurl:/x"])
def test_other_schemes_are_bad_requests_naming_the_scheme(uri, policy):
    scheme = uri.split(":")[0].lower()
    with pytest.raises(BadRequest, match=f"scheme '{scheme}'"):
        check_uri(uri, policy)


@pytest.mark.parametrize(("uri", "fault"), [
    ("file://otherhost/data/a.tif", "names host"),
    ("file:relative/a.tif", "no absolute path"),
    ("file:///data/a.tif?x=1", "query"),
    ("relative/a.tif", "neither a URI nor an absolute path"),
    ("s3://bucket", "no object"),
    ("https:///a.tif", "no host"),
    ("", "empty"),
    ("/data/a\x00.tif", "NUL"),
])
def test_malformed_locations_are_bad_requests(uri, fault, policy):
    with pytest.raises(BadRequest, match=fault):
        check_uri(uri, policy)


def test_policy_from_settings_uses_the_readable_roots(root, tmp_path):
    settings = SimpleNamespace(readable_roots=[root, tmp_path / "outputs"])
    assert InputPolicy.from_settings(settings).readable_roots == (root, tmp_path / "outputs")


def test_policy_from_real_settings_includes_the_output_folder(monkeypatch, root, tmp_path):
    from pesto_factory.runtime.settings import Settings

    monkeypatch.setenv("PESTO_INPUT_ROOTS", str(root))
    monkeypatch.setenv("PESTO_STATE_DIR", str(tmp_path / "state"))
    policy = InputPolicy.from_settings(Settings())
    assert policy.readable_roots == (root, (tmp_path / "state" / "outputs").resolve())


def test_inline_values_are_told_from_locations():
    jpeg = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\0" * 20).decode()
    tiff = base64.b64encode(b"II*\0" + b"\0" * 20).decode()
    assert jpeg.startswith("/9j/") and is_inline(jpeg)
    assert is_inline(tiff) and is_inline("data:image/png;base64,iVBOR") and is_inline(" SUkq")
    for location in ("/data/a.tif", "file:///a.tif", "https://h/a.tif", "s3://b/k", "ftp://h/x"):
        assert not is_inline(location), location


def test_display_uri_hides_credentials_and_queries():
    shown = display_uri("https://user:pw@example.org:8443/a.tif?X-Amz-Signature=secret")
    assert shown == "https://example.org:8443/a.tif?..."
