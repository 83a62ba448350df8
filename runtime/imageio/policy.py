"""Which image locations a request may name, and how GDAL reaches each of them.

An image value in a payload is either *inline* (base64, plain or as a `data:` URI) or a
*location*: a `file://` URI or bare absolute path, or a remote `http(s)://`, `s3://`, `gs://` URI.
The `InputPolicy` says which local folders may be read (the operator's input roots plus the
service's own output folder); remote locations go through GDAL's virtual file systems
(`/vsicurl/`, `/vsis3/`, `/vsigs/`). Checking a location is cheap and never opens the file: it
runs on the request path, before a job is queued.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pesto_factory.runtime.errors import BadRequest, Forbidden

__all__ = [
    "InputPolicy",
    "REMOTE_SCHEMES",
    "check_uri",
    "display_uri",
    "is_inline",
    "resolve_uri",
]

#: Remote URI schemes and the GDAL virtual file system that reads each of them.
REMOTE_SCHEMES = {"http": "/vsicurl/", "https": "/vsicurl/", "s3": "/vsis3/", "gs": "/vsigs/"}

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
# Base64 of a JPEG starts with "/9j/" (bytes FF D8 FF): the one inline value that looks like an
# absolute path. No raster format other than JPEG has base64 starting with "/".
_JPEG_BASE64 = "/9j/"


@dataclass(frozen=True)
class InputPolicy:
    """Local folders whose files a request may read (symlinks and `..` resolved), and, when
    set, the only remote hosts and buckets it may name (None: any)."""

    readable_roots: tuple[Path, ...]
    remote_hosts: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        roots = tuple(Path(os.path.realpath(root)) for root in self.readable_roots)
        object.__setattr__(self, "readable_roots", roots)
        if self.remote_hosts is not None:
            hosts = tuple(host.strip().lower() for host in self.remote_hosts if host.strip())
            object.__setattr__(self, "remote_hosts", hosts)

    @classmethod
    def from_settings(cls, settings: Any) -> InputPolicy:
        """The policy of a running service: its input roots and its output folder (or bucket)."""
        hosts = getattr(settings, "remote_hosts", None)
        own_bucket = getattr(settings, "output_bucket", None)
        if hosts and own_bucket:
            hosts = [*hosts, own_bucket]
        return cls(readable_roots=tuple(settings.readable_roots),
                   remote_hosts=tuple(hosts) if hosts else None)

    def allows(self, path: Path) -> bool:
        return any(path == root or path.is_relative_to(root) for root in self.readable_roots)


def is_inline(value: str) -> bool:
    """True when an Image value carries the pixels itself (base64 or a data: URI).

    Base64 never contains ':', so any `scheme:` prefix means a URI; a leading '/' means an
    absolute path, except for the base64 of a JPEG.
    """
    head = value[:64].lstrip()
    if head[:5].lower() == "data:":
        return True
    if _SCHEME.match(head):
        return False
    return not (head.startswith("/") and not head.startswith(_JPEG_BASE64))


def display_uri(uri: str) -> str:
    """A URI fit for an error message: no credentials, no query (pre-signed URLs carry secrets)."""
    parts = urlsplit(uri.strip())
    if parts.scheme in ("http", "https"):
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        query = "?..." if parts.query else ""
        return f"{parts.scheme}://{host}{port}{parts.path}{query}"
    return uri.strip() if len(uri) <= 300 else uri.strip()[:300] + "..."


def check_uri(uri: str, policy: InputPolicy, *, field: str | None = None) -> None:
    """Refuse a location the request may not read: Forbidden (outside the roots) or BadRequest."""
    resolve_uri(uri, policy, field=field)


def resolve_uri(uri: str, policy: InputPolicy, *, field: str | None = None) -> str:
    """The path GDAL opens for `uri`, after the same checks as `check_uri`."""
    where = f"input {field!r}: " if field else ""
    uri = uri.strip()
    if not uri:
        raise BadRequest(f"{where}empty image location")
    if "\x00" in uri:
        raise BadRequest(f"{where}image location contains a NUL character")
    match = _SCHEME.match(uri)
    if match is None:
        if not uri.startswith("/"):
            raise BadRequest(
                f"{where}{display_uri(uri)!r} is neither a URI nor an absolute path",
                hint="use file:///absolute/path, http(s)://, s3:// or gs://")
        return _local_path(uri, policy, where)
    scheme = match.group(1).lower()
    if scheme == "file":
        return _local_path(_file_uri_path(uri, where), policy, where)
    if scheme in REMOTE_SCHEMES:
        _check_remote_host(uri, policy, where)
        return _remote_path(uri, scheme, where)
    raise BadRequest(
        f"{where}URI scheme {scheme!r} is not supported ({display_uri(uri)!r})",
        hint="supported: file://, http://, https://, s3://, gs://")


def _file_uri_path(uri: str, where: str) -> str:
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise BadRequest(
            f"{where}file URI {uri!r} names host {parts.netloc!r}",
            hint="a local file is file:///absolute/path (three slashes)")
    if parts.query or parts.fragment:
        raise BadRequest(
            f"{where}file URI {uri!r} has a query or fragment",
            hint="percent-encode '?' and '#' in file names (%3F, %23)")
    path = unquote(parts.path)
    if not path.startswith("/"):
        raise BadRequest(f"{where}file URI {uri!r} has no absolute path")
    return path


def _local_path(path: str, policy: InputPolicy, where: str) -> str:
    resolved = Path(os.path.realpath(path))
    # A path starting with /vsi... would make GDAL fetch something else than a local file.
    if resolved.parts[1:2] and resolved.parts[1].lower().startswith("vsi"):
        raise Forbidden(f"{where}{path!r} is a GDAL virtual path, not a local file",
                        hint="name a local file as file:///absolute/path")
    if not policy.allows(resolved):
        roots = ", ".join(str(root) for root in policy.readable_roots) or "none configured"
        shown = path if str(resolved) == path else f"{path} (resolves to {resolved})"
        raise Forbidden(
            f"{where}reading {shown} is not allowed: files may only be read under the input "
            f"roots ({roots})",
            hint="ask the operator to add its folder to PESTO_INPUT_ROOTS")
    return str(resolved)


def _check_remote_host(uri: str, policy: InputPolicy, where: str) -> None:
    """With PESTO_REMOTE_HOSTS set, a request may name only those hosts and buckets: the
    service's network position and cloud credentials are not the client's to use."""
    if policy.remote_hosts is None:
        return
    parts = urlsplit(uri)
    names = {parts.netloc.lower(), (parts.hostname or "").lower()}
    if not names & set(policy.remote_hosts):
        raise Forbidden(
            f"{where}{display_uri(uri)!r}: host or bucket {parts.netloc!r} is not one of the "
            f"allowed remote sources ({', '.join(policy.remote_hosts)})",
            hint="the operator lists them in PESTO_REMOTE_HOSTS")


def _remote_path(uri: str, scheme: str, where: str) -> str:
    parts = urlsplit(uri)
    if not parts.netloc:
        raise BadRequest(f"{where}{display_uri(uri)!r} has no host or bucket")
    if scheme in ("http", "https"):
        return REMOTE_SCHEMES[scheme] + uri
    key = parts.path.lstrip("/")
    if not key:
        raise BadRequest(f"{where}{uri!r} names a bucket but no object")
    return f"{REMOTE_SCHEMES[scheme]}{parts.netloc}/{key}"
