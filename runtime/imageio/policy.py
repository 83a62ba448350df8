"""Which image locations a request may name, and how GDAL reaches each of them.

An image value in a payload is either *inline* (base64, plain or as a `data:` URI) or a
*location*: a `file://` URI or bare absolute path, or a remote `http(s)://`, `s3://`, `gs://` URI.
The `InputPolicy` says which local folders may be read (the operator's input roots plus the
service's own output folder); remote locations go through GDAL's virtual file systems
(`/vsicurl/`, `/vsis3/`, `/vsigs/`). Checking a location is cheap and never opens the file: it
runs on the request path, before a job is queued.
"""

from __future__ import annotations

import ipaddress
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
    "check_http_host",
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
    _checked_path(uri, policy, field=field)


def resolve_uri(uri: str, policy: InputPolicy, *, field: str | None = None) -> str:
    """The path GDAL opens for `uri`, after the same checks as `check_uri`.

    An http(s) location is then read through this process's egress proxy, which checks every
    connection GDAL makes, redirects included, against the same policy (`egress`).
    """
    path = _checked_path(uri, policy, field=field)
    if path.startswith(REMOTE_SCHEMES["http"]):
        from pesto_factory.runtime.imageio.egress import route_http_reads

        route_http_reads(policy)
    return path


def _checked_path(uri: str, policy: InputPolicy, *, field: str | None) -> str:
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
    if "\x00" in path:
        raise BadRequest(f"{where}file URI {display_uri(uri)!r} encodes a NUL character (%00)")
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
    parts = urlsplit(uri)
    if parts.scheme.lower() in ("http", "https"):
        if not parts.hostname:
            raise BadRequest(f"{where}{display_uri(uri)!r} has no host or bucket")
        try:
            port = parts.port
        except ValueError:
            raise BadRequest(f"{where}{display_uri(uri)!r} has an invalid port") from None
        check_http_host(parts.scheme.lower(), parts.hostname or "", port, policy, where=where)
        return
    if policy.remote_hosts is None or "*" in policy.remote_hosts:
        return
    names = {parts.netloc.lower(), (parts.hostname or "").lower()}
    if not names & set(policy.remote_hosts):
        raise Forbidden(
            f"{where}{display_uri(uri)!r}: host or bucket {parts.netloc!r} is not one of the "
            f"allowed remote sources ({', '.join(policy.remote_hosts)})",
            hint="the operator lists them in PESTO_REMOTE_HOSTS")


def check_http_host(scheme: str, host: str, port: int | None, policy: InputPolicy, *,
                    where: str = "", addresses: tuple[str, ...] = ()) -> None:
    """Refuse an http(s) host the policy does not allow (Forbidden naming host and setting).

    Nothing is fetched unless PESTO_REMOTE_HOSTS allows it: an entry `host` allows the host on
    the scheme's default port, `host:port` that port only, `*` any host. Loopback, link-local,
    unspecified and cloud metadata addresses (the host itself, or any of `addresses` it resolves
    to) need an entry of their own: `*` never reaches the service's own machine or its cloud
    credentials.
    """
    host = host.lower().strip("[]")
    port = port or _DEFAULT_PORTS.get(scheme, 80)
    entries = policy.remote_hosts or ()
    named = f"{_bracketed(host)}:{port}" in entries or (
        port == _DEFAULT_PORTS.get(scheme) and host in entries)
    if named:
        return
    internal = next((a for a in (host, *addresses) if _is_internal(a)), None)
    if "*" in entries and internal is None:
        return
    shown = f"{scheme}://{_bracketed(host)}:{port}"
    if not entries:
        reason = "remote http(s) inputs are disabled (PESTO_REMOTE_HOSTS is empty)"
    elif internal is not None:
        reason = (f"{internal} is a loopback, link-local or metadata address: it needs its own "
                  "entry in PESTO_REMOTE_HOSTS ('*' does not cover it)")
    else:
        reason = f"it is not one of the allowed remote sources ({', '.join(entries)})"
    raise Forbidden(f"{where}reading from {shown} is not allowed: {reason}",
                    hint="the operator lists hosts (host or host:port) in PESTO_REMOTE_HOSTS")


_DEFAULT_PORTS = {"http": 80, "https": 443}
_METADATA_HOSTS = {"metadata", "metadata.google.internal", "metadata.goog", "instance-data",
                   "169.254.169.254", "fd00:ec2::254", "100.100.100.200"}


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _is_internal(host: str) -> bool:
    """Loopback, link-local, unspecified or a cloud metadata endpoint."""
    host = host.lower().rstrip(".")
    if host in _METADATA_HOSTS or host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_link_local or address.is_unspecified


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
