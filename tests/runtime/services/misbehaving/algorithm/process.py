"""A test algorithm that misbehaves on request: raise, exit, segfault, hang, report progress,
allocate memory."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import time
from pathlib import Path

from pesto_factory.runtime import report_progress
from pesto_factory.runtime.errors import UnprocessableInput


class CloudyInputError(UnprocessableInput):
    """An algorithm's own error class: the service process cannot import it."""


class Process:
    def on_start(self) -> None:
        self.pid = os.getpid()
        marker = os.environ.get("MISBEHAVING_START_MARKER")
        if marker:  # count worker starts, to check on_start runs once per worker
            with open(marker, "a") as handle:
                handle.write(f"{self.pid}\n")
        if os.environ.get("MISBEHAVING_FAIL_START"):
            raise RuntimeError("model file missing")

    def process(self, mode: str = "ok", seconds: float = 0.0, gate: str | None = None,
                megabytes: int = 0) -> dict:
        if mode == "allocate":  # touch every page: resident memory, not just address space
            hoard = b"x" * (megabytes << 20)
            time.sleep(seconds)
            del hoard
        if mode == "grandchild":  # starts a process of its own, then hangs
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
            Path(gate).write_text(str(child.pid))
            time.sleep(120)
        if mode == "own_error":
            raise CloudyInputError("too cloudy to process", hint="pick another date")
        if mode == "raise":
            raise ValueError("bad pixel values")
        if mode == "exit":
            os._exit(3)
        if mode == "segfault":
            ctypes.string_at(0)
        if mode == "progress":
            report_progress(42, "half way")
        if gate:  # wait until the test creates the gate file (a test-controlled latch)
            deadline = time.monotonic() + 60
            while not Path(gate).exists() and time.monotonic() < deadline:
                time.sleep(0.01)
        if seconds:
            time.sleep(seconds)
        return {"mode": mode, "pid": self.pid}
