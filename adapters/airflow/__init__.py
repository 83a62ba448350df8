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
    """What Airflow's providers manager reads (`airflow providers list|hooks|triggers|links`):
    the hook, operator and trigger modules, the job extra link and the `pesto` connection form.
    Built without importing Airflow."""
    from pesto_factory.adapters.airflow._provider import provider_info

    return provider_info()


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
