"""Small Airflow tasks the generated DAGs use around the service operators.

- `pesto_fan_out`: the inputs of each call of a fan-out step, read from the upstream output
  (`foreach`) with the spec's path semantics, cut into batches: `.expand(batch=...)` maps one
  task per batch, which calls the service once per item. `batch_size` items per batch at least,
  `max_map_length` batches at most (their size grows past `batch_size x max_map_length` items),
  so a fan-out of any size stays under Airflow's `core.max_map_length` (1024).
- `pesto_gather`: the outputs of the batches flattened back into item order (the fan-in).
- `pesto_outputs`: gathers the pipeline's outputs as one XCom (the DAG run's result).
- `pesto_path`: a Jinja macro reading a field path with the spec's semantics (a field read on a
  list reads it from every item), so `${tiling.tiles}` means the same as in the local runner.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from airflow.sdk import task
from pesto_factory.adapters.airflow.operators.pesto import plain
from pesto_factory.adapters.pipeline import read_path

__all__ = ["DEFAULT_MAX_MAP_LENGTH", "batches", "pesto_fan_out", "pesto_gather", "pesto_outputs",
           "pesto_path"]

#: Mapped tasks of a fan-out at most, by default: a quarter of Airflow's core.max_map_length.
DEFAULT_MAX_MAP_LENGTH = 256


def pesto_path(value: Any, *path: str | int) -> Any:
    """`value` followed along `path` (spec semantics: see pesto_factory.adapters.pipeline.read_path)."""
    return read_path(plain(value), tuple(str(part) for part in path))


def batches(items: list[Any], batch_size: int = 1,
            max_map_length: int = DEFAULT_MAX_MAP_LENGTH) -> list[list[Any]]:
    """`items` in consecutive batches of equal size (the last may be shorter): `batch_size`
    at least, and no more than `max_map_length` batches."""
    if batch_size < 1 or max_map_length < 1:
        raise ValueError(f"batch_size ({batch_size}) and max_map_length ({max_map_length}) "
                         "must be >= 1")
    size = max(batch_size, math.ceil(len(items) / max_map_length))
    return [items[start:start + size] for start in range(0, len(items), size)]


@task(multiple_outputs=False)
def pesto_fan_out(value: Any, path: list[str], bindings: Mapping[str, list[str]],
                  batch_size: int = 1, max_map_length: int = DEFAULT_MAX_MAP_LENGTH) -> Any:
    """The batches of calls over the items of `value` at `path`: each call an inputs dict
    (input name -> the item at its path)."""
    items = pesto_path(value, *path)
    if not isinstance(items, list):
        raise TypeError(f"fan-out over {'.'.join(path) or 'the output'}: expected a list, got "
                        f"{type(items).__name__}")
    calls = [{name: pesto_path(item, *item_path) for name, item_path in bindings.items()}
             for item in items]
    return batches(calls, batch_size, max_map_length)


@task(multiple_outputs=False)
def pesto_gather(outputs: Any) -> Any:
    """The outputs of a batched fan-out, flattened in item order (read in one slice)."""
    return [output for batch in plain(outputs) for output in batch]


@task(multiple_outputs=False)
def pesto_outputs(values: Mapping[str, Any]) -> Any:
    """The pipeline's outputs (name -> value), as plain JSON."""
    return plain(values)
