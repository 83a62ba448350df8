"""Small Airflow tasks the generated DAGs use around the service operators.

- `pesto_fan_out`: the keyword arguments of each call of a fan-out step, read from the
  upstream output (`foreach`) with the spec's path semantics; `.expand_kwargs()` maps over it.
- `pesto_outputs`: gathers the pipeline's outputs as one XCom (the DAG run's result).
- `pesto_path`: a Jinja macro reading a field path with the spec's semantics (a field read on a
  list reads it from every item), so `${tiling.tiles}` means the same as in the local runner.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import task
from pesto_factory.adapters.airflow.operators.pesto import plain
from pesto_factory.adapters.pipeline import read_path

__all__ = ["pesto_fan_out", "pesto_outputs", "pesto_path"]


def pesto_path(value: Any, *path: str | int) -> Any:
    """`value` followed along `path` (spec semantics: see pesto_factory.adapters.pipeline.read_path)."""
    return read_path(plain(value), tuple(str(part) for part in path))


@task(multiple_outputs=False)
def pesto_fan_out(value: Any, path: list[str], bindings: Mapping[str, list[str]]) -> Any:
    """One kwargs dict per item of `value` at `path`: input name -> the item at its path."""
    items = pesto_path(value, *path)
    if not isinstance(items, list):
        raise TypeError(f"fan-out over {'.'.join(path) or 'the output'}: expected a list, got "
                        f"{type(items).__name__}")
    return [{name: pesto_path(item, *item_path) for name, item_path in bindings.items()}
            for item in items]


@task(multiple_outputs=False)
def pesto_outputs(values: Mapping[str, Any]) -> Any:
    """The pipeline's outputs (name -> value), as plain JSON."""
    return plain(values)
