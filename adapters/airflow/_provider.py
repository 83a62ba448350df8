"""The provider info of the package (Airflow's provider.yaml, as the entry point returns it).

Kept apart from the hook so `airflow providers list` reads it without importing Airflow's SDK;
the hook's `get_ui_field_behaviour` reads the connection form from here (one copy).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

__all__ = ["connection_type", "provider_info"]

_PACKAGE = "pesto_factory.adapters.airflow"
_INTEGRATION = "PESTO"


def _version() -> str:
    try:
        return version("pesto-factory")
    except PackageNotFoundError:  # a source tree on sys.path, not installed
        return "0.0.0"


def _modules(kind: str) -> list[dict[str, Any]]:
    return [{"integration-name": _INTEGRATION, "python-modules": [f"{_PACKAGE}.{kind}.pesto"]}]


def provider_info() -> dict[str, Any]:
    """Hooks, operators, triggers, extra links and the `pesto` connection type with its form."""
    from pesto_factory.adapters.client.client import DEFAULT_PROCESS_TIMEOUT, DEFAULT_TIMEOUT

    return {
        "package-name": "pesto-factory",
        "name": "PESTO factory",
        "description": "Operators, hook and trigger of PESTO geoprocessing services.",
        "versions": [_version()],
        "integrations": [{"integration-name": _INTEGRATION}],
        "hooks": _modules("hooks"),
        "operators": _modules("operators"),
        "triggers": _modules("triggers"),
        "extra-links": [f"{_PACKAGE}.operators.pesto.PestoJobLink"],
        "connection-types": [{
            "connection-type": "pesto",
            "hook-class-name": f"{_PACKAGE}.hooks.pesto.PestoHook",
            "hook-name": "PESTO service",
            "ui-field-behaviour": {
                "hidden-fields": ["login", "extra"],
                "relabeling": {"schema": "Scheme (http or https)", "password": "Bearer token"},
                "placeholders": {"host": "127.0.0.1 (or https://svc.example:8443)",
                                 "port": "8080", "schema": "http"},
            },
            "conn-fields": {
                "timeout": {"label": "Timeout (s)",
                            "description": "Seconds an ordinary call (status, results, submit) "
                                           "may take.",
                            "schema": {"type": ["number", "null"], "minimum": 1,
                                       "default": DEFAULT_TIMEOUT}},
                "process_timeout": {"label": "Synchronous call timeout (s)",
                                    "description": "Seconds a synchronous POST /process may "
                                                   "take.",
                                    "schema": {"type": ["number", "null"], "minimum": 1,
                                               "default": DEFAULT_PROCESS_TIMEOUT}},
            },
        }],
    }


def connection_type() -> dict[str, Any]:
    """The `pesto` connection type's entry (form fields and extras)."""
    return provider_info()["connection-types"][0]
