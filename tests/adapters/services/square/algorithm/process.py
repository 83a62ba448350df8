"""Test service: square one item. Items can be made to finish in reverse order (a latch
folder: each item but the last waits for the next item's marker), to fail (fail_index), or to
hang while a `hold` file exists (markers `started-INDEX` in the latch folder tell a test when)."""

from __future__ import annotations

import time
from pathlib import Path


class Process:
    def process(self, item: dict, latch_dir: str | None = None, fail_index: int = -1,
                hold: str | None = None) -> dict:
        index = item["index"]
        if index == fail_index:
            raise ValueError(f"item {index} refused: value {item['value']} is unlucky")
        if latch_dir:
            (Path(latch_dir) / f"started-{index}").touch()
        deadline = time.monotonic() + 60
        while hold and Path(hold).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        if latch_dir:
            latch = Path(latch_dir)
            if not item.get("last"):
                deadline = time.monotonic() + 60
                while not (latch / f"done-{index + 1}").exists():
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"item {index}: item {index + 1} never finished")
                    time.sleep(0.01)
        finished = time.time()
        if latch_dir:
            (Path(latch_dir) / f"done-{index}").touch()
        return {"index": index, "square": item["value"] ** 2, "finished_at": finished}
