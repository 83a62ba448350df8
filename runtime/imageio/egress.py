"""The egress proxy: the one way http(s) reads leave a process, checked at every hop.

GDAL (libcurl) follows redirects by itself and GDAL has no option to stop it, so checking the
URL a request names is not enough: an allowed host could answer 302 to the cloud metadata
service or to the service's own port. Every `/vsicurl/` read of a process therefore goes
through a small forward proxy on 127.0.0.1 (GDAL_HTTP_PROXY, set for the `/vsicurl/` prefix
only, so s3/gs reads are untouched). Each connection GDAL opens, the first request and every
redirect hop alike, names its host and port to the proxy, which

- checks them against the input policy (`check_http_host`: PESTO_REMOTE_HOSTS),
- resolves the name once and refuses a loopback, link-local or metadata address that is not
  listed itself, then connects to the very address it checked (no DNS rebinding in between),
- answers 403 to anything else, which GDAL reports as the read's failure.

A plain-http request is forwarded with `Connection: close` both ways, so a kept-alive proxy
connection never carries a second, unchecked request.
"""

from __future__ import annotations

import collections
import ctypes
import logging
import os
import selectors
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit

from pesto_factory.runtime.errors import Forbidden, UnprocessableInput
from pesto_factory.runtime.imageio.policy import InputPolicy, check_http_host

__all__ = ["refused_hops_forbidden", "route_http_reads"]

logger = logging.getLogger(__name__)

_MAX_HEAD = 64 * 1024
_IDLE_SECONDS = 120.0
_CHUNK = 256 * 1024
_DROPPED = (b"proxy-", b"connection:", b"keep-alive:")

_lock = threading.Lock()
_proxies: dict[InputPolicy, _Proxy] = {}
_routed: list[InputPolicy] = []  # the policy GDAL's /vsicurl/ reads go through now
_refusals: collections.deque[tuple[int, str]] = collections.deque(maxlen=16)
_refused = [0]  # how many connections were refused so far


@contextmanager
def refused_hops_forbidden() -> Iterator[None]:
    """A read that failed because the proxy refused one of its hops (a redirect elsewhere)
    is a 403 naming that hop, not GDAL's generic "cannot read"."""
    mark = _refused[0]
    try:
        yield
    except UnprocessableInput:
        refused = [message for count, message in list(_refusals) if count > mark]
        if refused:
            raise Forbidden(refused[-1], hint="redirects are checked against PESTO_REMOTE_HOSTS "
                            "at every hop") from None
        raise


def route_http_reads(policy: InputPolicy) -> str:
    """Make this process's /vsicurl/ reads go through a proxy enforcing `policy` (idempotent);
    the proxy's address (host:port)."""
    with _lock:
        proxy = _proxies.get(policy)
        if proxy is None:
            proxy = _proxies[policy] = _Proxy(policy)
        if _routed[-1:] != [policy]:
            _set_vsicurl_option("GDAL_HTTP_PROXY", f"127.0.0.1:{proxy.port}")
            for variable in ("NO_PROXY", "no_proxy"):  # libcurl would go around the proxy
                os.environ.pop(variable, None)
            _routed[:] = [policy]
        return f"127.0.0.1:{proxy.port}"


def _set_vsicurl_option(key: str, value: str) -> None:
    """A GDAL option for paths under /vsicurl/ only (VSISetPathSpecificOption, GDAL >= 3.6)."""
    from rasterio import _base

    try:
        setter = ctypes.CDLL(_base.__file__).VSISetPathSpecificOption
    except (OSError, AttributeError):
        raise Forbidden("remote http(s) reads are unavailable: this GDAL cannot route them "
                        "through the egress check (needs GDAL >= 3.6)") from None
    setter.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p]
    setter.restype = None
    setter(b"/vsicurl/", key.encode(), value.encode())


class _Proxy:
    """A forward proxy on 127.0.0.1, one thread per connection, checking each one."""

    def __init__(self, policy: InputPolicy) -> None:
        self.policy = policy
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, name="pesto-egress", daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self.server.accept()
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(_IDLE_SECONDS)
        with client:
            try:
                head, rest = _read_head(client)
                method, target, version, headers = _parse_head(head)
                scheme, host, port, path = _destination(method, target)
                address = self._checked_address(scheme, host, port)
            except Forbidden as exc:
                logger.warning("egress refused: %s", exc.message)
                with _lock:
                    _refused[0] += 1
                    _refusals.append((_refused[0], exc.message))
                _answer(client, 403, exc.message)
                return
            except (OSError, ValueError) as exc:
                _answer(client, 502 if isinstance(exc, OSError) else 400, str(exc)[:200])
                return
            try:
                upstream = socket.create_connection((address, port), timeout=_IDLE_SECONDS)
            except OSError as exc:
                _answer(client, 502, f"cannot connect to {host}:{port}: {exc}")
                return
            with upstream:
                if method == "CONNECT":
                    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    _pipe(client, upstream, both_ways=True)
                    return
                kept = [line for line in headers if not line.lower().startswith(_DROPPED)]
                upstream.sendall(b"\r\n".join(
                    [f"{method} {path} {version}".encode("latin-1"), *kept,
                     b"Connection: close", b"", b""]) + rest)
                _forward_response(upstream, client)

    def _checked_address(self, scheme: str, host: str, port: int) -> str:
        check_http_host(scheme, host, port, self.policy)  # before any DNS lookup
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
        check_http_host(scheme, host, port, self.policy, addresses=addresses)
        return addresses[0]


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(8192)
        if not chunk:
            raise ValueError("connection closed before the request head")
        data += chunk
        if len(data) > _MAX_HEAD:
            raise ValueError("request head too large")
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _parse_head(head: bytes) -> tuple[str, str, str, list[bytes]]:
    request_line, *headers = head.split(b"\r\n")
    method, target, version = request_line.decode("latin-1").split(" ", 2)
    return method.upper(), target, version, headers


def _destination(method: str, target: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, origin-form path) of a proxy request."""
    if method == "CONNECT":
        parts = urlsplit(f"//{target}")
        return "https", parts.hostname or "", parts.port or 443, ""
    parts = urlsplit(target)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"not an absolute http URL: {target[:100]}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return "http", parts.hostname, parts.port or 80, path


def _forward_response(upstream: socket.socket, client: socket.socket) -> None:
    """The response, its head rewritten to `Connection: close`, then the rest as it comes."""
    head, rest = _read_head(upstream)
    status_line, *headers = head.split(b"\r\n")
    kept = [line for line in headers if not line.lower().startswith(_DROPPED)]
    client.sendall(b"\r\n".join([status_line, *kept, b"Connection: close", b"", b""]) + rest)
    _pipe(upstream, client, both_ways=False)


def _pipe(a: socket.socket, b: socket.socket, *, both_ways: bool) -> None:
    """Copy a -> b (and b -> a when `both_ways`) until either side closes or goes idle."""
    with selectors.DefaultSelector() as selector:
        selector.register(a, selectors.EVENT_READ, b)
        selector.register(b, selectors.EVENT_READ, a if both_ways else None)
        while True:
            events = selector.select(timeout=_IDLE_SECONDS)
            if not events:
                return
            for key, _ in events:
                try:
                    data = key.fileobj.recv(_CHUNK)  # type: ignore[union-attr]
                    if not data:
                        return
                    if key.data is not None:
                        key.data.sendall(data)
                except OSError:
                    return


def _answer(client: socket.socket, status: int, text: str) -> None:
    reason = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}[status]
    body = text.encode("utf-8", "replace")
    with suppress(OSError):
        client.sendall(f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
                       f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                       + body)
