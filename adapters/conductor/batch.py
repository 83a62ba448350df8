"""What a worker does with the inputs the fan-out generator writes (`fanout`): run a batch
of items (one service call per item, `parallel` at once) and load a manifest fan-in.

    outputs = run_batch(batch, call, store=store, key="WF/STEP__3")   # a forked task
    inputs = expand_fan_ins(inputs)                                    # any task's inputs
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pesto_factory.adapters.conductor.fanout import ITEM, MANIFESTS
from pesto_factory.adapters.conductor.manifests import ManifestStore, read_manifest

__all__ = ["BatchError", "expand_fan_ins", "fill_item", "read_along", "run_batch"]


class BatchError(Exception):
    """An item of a batch failed: names the item's index in the whole list."""

    def __init__(self, index: int, error: BaseException) -> None:
        super().__init__(f"item {index}: {error}")
        self.index = index
        self.error = error


def read_along(value: Any, path: list[str] | tuple[str, ...]) -> Any:
    """Read `path` on a value: a name reads a field, digits index a list (None if missing)."""
    for part in path:
        if isinstance(value, list) and part.isdigit():
            value = value[int(part)] if int(part) < len(value) else None
        elif isinstance(value, Mapping):
            value = value.get(part)
        else:
            return None
    return value


def fill_item(template: Any, item: Any) -> Any:
    """The template with every `{"__pesto_item": path}` marker replaced by the item's value."""
    if isinstance(template, Mapping):
        if set(template) == {ITEM}:
            return read_along(item, template[ITEM])
        return {key: fill_item(value, item) for key, value in template.items()}
    if isinstance(template, list):
        return [fill_item(value, item) for value in template]
    return template


def _fan_in(manifests: list[str], path: list[str]) -> Any:
    """The outputs listed by the manifests, in order, read along path as the inline collector
    does (names map over the items until a number picks one)."""
    value: Any = [output for uri in manifests for output in read_manifest(uri)["results"]]
    listed = True
    for part in path:
        if listed and part.isdigit():
            value = value[int(part)] if int(part) < len(value) else None
            listed = False
        elif listed:
            value = [read_along(output, [part]) for output in value]
        else:
            value = read_along(value, [part])
    return value


def expand_fan_ins(value: Any) -> Any:
    """A task input with every manifest fan-in `{"__pesto_manifests": [...], "path": [...]}`
    replaced by the list it stands for."""
    if isinstance(value, Mapping):
        if MANIFESTS in value:
            return _fan_in(list(value[MANIFESTS] or []), list(value.get("path") or []))
        return {key: expand_fan_ins(sub) for key, sub in value.items()}
    if isinstance(value, list):
        return [expand_fan_ins(sub) for sub in value]
    return value


def run_batch(batch: Mapping[str, Any], call: Callable[[dict[str, Any]], dict[str, Any]], *,
              store: ManifestStore, key: str) -> dict[str, Any]:
    """Call the service once per item (at most `parallel` at once); the first failing item
    (lowest index) fails the batch. Returns the forked task's output."""
    items = list(batch.get("items") or [])
    offset = int(batch.get("offset") or 0)
    template = expand_fan_ins(batch.get("template") or {})
    inputs = [fill_item(template, item) for item in items]
    results: list[Any] = [None] * len(inputs)
    errors: dict[int, BaseException] = {}

    def one(index: int) -> None:
        try:
            results[index] = call(inputs[index])
        except Exception as error:  # noqa: BLE001 - reported below with the item's index
            errors[index] = error

    workers = max(1, min(int(batch.get("parallel") or 1), len(inputs) or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pesto-batch") as pool:
        list(pool.map(one, range(len(inputs))))
    if errors:
        first = min(errors)
        raise BatchError(offset + first, errors[first]) from errors[first]
    if batch.get("fanIn") == "inline":
        return {"offset": offset, "count": len(results), "results": results}
    uri = store.write(key + ".json", {"offset": offset, "results": results})
    return {"offset": offset, "count": len(results), "manifest": uri}
