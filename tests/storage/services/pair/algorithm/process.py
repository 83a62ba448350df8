"""A test algorithm with two image outputs: a copy of its input (COG) and an 8-bit quicklook
(PNG); `broken` writes the first, then returns a number for the second (an output that breaks
the schema after one object was uploaded); `gate` waits for a file (a test-controlled latch)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from pesto_factory.runtime import GeoImage


class Process:
    def on_start(self) -> None:
        pass

    def process(self, image: GeoImage, mode: str = "ok", gate: str | None = None) -> dict:
        if gate:
            deadline = time.monotonic() + 60
            while not Path(gate).exists() and time.monotonic() < deadline:
                time.sleep(0.01)
        quicklook = (image.data[:1] // max(1, int(image.data.max()) // 255 + 1)).astype(np.uint8)
        return {"copy": image, "quicklook": 42 if mode == "broken" else quicklook}
