"""The egress proxy checks each connection itself: CONNECT (https, and every https redirect
hop) and plain http, whatever URL the request named first."""

from __future__ import annotations

import socket

import pytest
from pesto_factory.runtime.imageio import InputPolicy
from pesto_factory.runtime.imageio.egress import route_http_reads
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.runtime.conftest import serve_asgi


@pytest.fixture(scope="module")
def upstream():
    async def hello(_request):
        return PlainTextResponse("hello")

    with serve_asgi(Starlette(routes=[Route("/hello", hello)])) as base:
        yield base.removeprefix("http://")


def ask(proxy: str, head: str) -> bytes:
    host, port = proxy.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if head.startswith("CONNECT") and b"\r\n\r\n" in answer:
                break
        return answer


def test_connect_is_checked_against_the_policy(upstream: str) -> None:
    proxy = route_http_reads(InputPolicy(readable_roots=(), remote_hosts=(upstream,)))
    assert ask(proxy, f"CONNECT {upstream} HTTP/1.1\r\nHost: {upstream}\r\n\r\n").startswith(
        b"HTTP/1.1 200")
    refused = ask(proxy, "CONNECT 169.254.169.254:443 HTTP/1.1\r\n\r\n")
    assert refused.startswith(b"HTTP/1.1 403") and b"metadata" in refused


def test_plain_http_is_forwarded_once_and_closed(upstream: str) -> None:
    proxy = route_http_reads(InputPolicy(readable_roots=(), remote_hosts=(upstream,)))
    answer = ask(proxy, f"GET http://{upstream}/hello HTTP/1.1\r\nHost: {upstream}\r\n"
                        "Proxy-Connection: keep-alive\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"hello")
    assert b"connection: close" in answer.lower()
    other_port = int(upstream.rsplit(":", 1)[1]) + 1
    refused = ask(proxy, f"GET http://127.0.0.1:{other_port}/ HTTP/1.1\r\n\r\n")
    assert refused.startswith(b"HTTP/1.1 403")
