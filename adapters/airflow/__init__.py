"""The Airflow adapter: PESTO services as Airflow operators, and pipelines as DAGs.

- `PestoHook` (hooks/): an Airflow connection -> the services' REST client.
- `PestoProcessOperator` (operators/): one service call as a task, sync or deferrable.
- `PestoJobTrigger` (triggers/): waits for an asynchronous job in the triggerer.
- `pesto_factory.adapters.airflow.generate`: a describe document -> an operator class per service, and a
  pipeline spec -> a DAG file using them (`packager emit airflow`).

Airflow itself is imported only when one of those classes is used: the provider entry point
(`get_provider_info`) and the generator stay light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PestoHook", "PestoJobTrigger", "PestoProcessOperator", "get_provider_info"]

_LAZY = {
    "PestoHook": "pesto_factory.adapters.airflow.hooks.pesto",
    "PestoProcessOperator": "pesto_factory.adapters.airflow.operators.pesto",
    "PestoJobTrigger": "pesto_factory.adapters.airflow.triggers.pesto",
}


def get_provider_info() -> dict[str, Any]:
    """What Airflow's providers manager shows for this package (the `pesto` connection type)."""
    return {
        "package-name": "pesto-factory",
        "name": "PESTO factory",
        "description": "Operators, hook and trigger of PESTO geoprocessing services.",
        "versions": ["0.1.0"],
        "connection-types": [{"connection-type": "pesto",
                              "hook-class-name": "pesto_factory.adapters.airflow.hooks.pesto.PestoHook"}],
    }


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
