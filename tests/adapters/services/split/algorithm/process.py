"""Test service: split a count into a list of items (the list a pipeline fans out over)."""

from __future__ import annotations


class Process:
    def process(self, count: int, start: int = 1) -> dict:
        items = [{"index": i, "value": start + i, "last": i == count - 1} for i in range(count)]
        return {"items": items, "count": count}
