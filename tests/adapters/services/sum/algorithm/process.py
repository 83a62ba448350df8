"""Test service: the fan-in. Sums the parts in the order given, and draws them as an image
(one column per part, its value the part's square) so the run has an image output."""

from __future__ import annotations

import numpy as np


class Process:
    def process(self, parts: list, label: str = "sum") -> dict:
        squares = [part["square"] for part in parts]
        image = np.array([[squares or [0]]], dtype=np.int32)  # (1 band, 1 row, N cols)
        return {"total": sum(squares), "indexes": [part["index"] for part in parts],
                "label": label, "image": image}
