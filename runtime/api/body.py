"""Request bodies, read without holding a large one whole on the event loop.

A raw image body is streamed chunk by chunk into a spool file (the worker reads it from
there); a JSON body is kept in memory up to `JSON_IN_MEMORY` bytes, beyond that it is streamed
to a temporary file and parsed in a thread, so a huge body never stalls other requests.

JSON is parsed strictly: NaN, Infinity and numbers that overflow a float are refused (they
are not JSON), and an integer of more digits than Python converts is a 400, not a 500.
"""

from __future__ import annotations

import asyncio
import json
import math
import tempfile
from pathlib import Path
from typing import IO, Any

from pesto_factory.runtime.errors import BadRequest, PayloadTooLarge
from starlette.requests import Request

__all__ = ["JSON_IN_MEMORY", "parse_json", "read_json_body", "spool_body"]

#: JSON bodies above this size are spooled to a file and parsed in a thread.
JSON_IN_MEMORY = 1 << 20


class _NotJson(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJson(f"number {text[:40]} overflows a 64-bit float")
    return value


def parse_json(source: bytes | IO[bytes]) -> Any:
    """Strict JSON from bytes or a binary file: errors become a BadRequest naming the fault."""
    try:
        if isinstance(source, bytes | bytearray):
            return json.loads(source or b"null", parse_constant=_refuse_constant,
                              parse_float=_finite_float)
        return json.load(source, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc.msg} at line {exc.lineno},"
                         f" column {exc.colno}") from None
    except UnicodeDecodeError:
        raise BadRequest("request body is not UTF-8 JSON") from None
    except RecursionError:
        raise BadRequest("request body is nested too deeply") from None
    except ValueError as exc:  # NaN, Infinity, 1e999, an integer of more than 4300 digits
        raise BadRequest(f"request body is not valid JSON: {str(exc)[:200]}",
                         hint="numbers must be finite and integers at most 4300 digits") from None


async def read_json_body(request: Request, *, max_bytes: int) -> Any:
    """The body parsed as JSON; a large one streamed to a temporary file, parsed in a thread.

    Over `max_bytes` (PESTO_MAX_JSON_BYTES) it is refused with 413 as soon as that is known.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _json_too_large(max_bytes)
    chunks: list[bytes] = []
    size = 0
    spooled: IO[bytes] | None = None
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise _json_too_large(max_bytes)
            if spooled is None:
                chunks.append(chunk)
                if size > JSON_IN_MEMORY:
                    spooled = tempfile.TemporaryFile()  # noqa: SIM115 - closed in finally
                    await asyncio.to_thread(spooled.writelines, chunks)
                    chunks.clear()
            elif chunk:
                await asyncio.to_thread(spooled.write, chunk)
        if spooled is None:
            return parse_json(b"".join(chunks))

        def parse() -> Any:
            spooled.seek(0)
            return parse_json(spooled)

        return await asyncio.to_thread(parse)
    finally:
        if spooled is not None:
            spooled.close()


def _json_too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"JSON request body larger than {max_bytes} bytes (PESTO_MAX_JSON_BYTES)",
        hint="send the image as a raw application/octet-stream body, or by reference")


async def spool_body(request: Request, spool_dir: Path) -> Path:
    """Stream the body into a new file under `spool_dir`; the caller owns the file."""
    spool_dir.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed by the with below
        dir=spool_dir, prefix="body-", delete=False)
    path = Path(handle.name)
    try:
        with handle:
            pending: list[bytes] = []
            pending_size = 0
            async for chunk in request.stream():
                pending.append(chunk)
                pending_size += len(chunk)
                if pending_size >= JSON_IN_MEMORY:  # write in MiB batches, off the loop
                    await asyncio.to_thread(handle.writelines, pending)
                    pending, pending_size = [], 0
            if pending:
                await asyncio.to_thread(handle.writelines, pending)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
