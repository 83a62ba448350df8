"""Messages from a worker to the service: length-prefixed pickles on a one-way pipe.

The service reads them on its event loop as bytes arrive (the loop may make the pipe
non-blocking, as uvloop does), so a frame is decoded only once it is complete and a large
result never blocks the loop. Frame: 8-byte big-endian length, then the pickled message.
"""

from __future__ import annotations

import os
import pickle
import struct
from typing import Any

__all__ = ["send_message", "FrameReader"]

_HEADER = struct.Struct("!Q")


def send_message(fd: int, message: Any) -> None:
    """Write one message (blocking) on the worker side."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class FrameReader:
    """Accumulates bytes and yields every complete message."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        self._buffer += data
        messages = []
        while len(self._buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buffer)
            end = _HEADER.size + size
            if len(self._buffer) < end:
                break
            messages.append(pickle.loads(self._buffer[_HEADER.size:end]))
            del self._buffer[:end]
        return messages
