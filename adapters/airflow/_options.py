"""A step's `airflow` options (schema: Airflow) as the generated task's constructor arguments.

Durations are seconds in the spec and `timedelta`s for Airflow; `outlets` are Asset URIs and
become `Asset(...)`s; the batching options go to the fan-out task, not the operator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["FAN_OUT_OPTIONS", "option_kwargs"]

#: Options of the `pesto_fan_out` task (how items are cut into mapped tasks).
FAN_OUT_OPTIONS = ("batch_size", "max_map_length")
_SECONDS = ("retry_delay", "execution_timeout")


def option_kwargs(options: Mapping[str, Any]) -> tuple[list[str], set[str]]:
    """`name=value,` source lines for the operator, and the names the DAG file must import
    (`timedelta`, `Asset`)."""
    lines, imports = [], set()
    for name, value in options.items():
        if name in FAN_OUT_OPTIONS:
            continue
        if name in _SECONDS:
            imports.add("timedelta")
            lines.append(f"{name}=timedelta(seconds={value!r}),")
        elif name == "outlets":
            imports.add("Asset")
            lines.append(f"outlets=[{', '.join(f'Asset({uri!r})' for uri in value)}],")
        else:
            lines.append(f"{name}={value!r},")
    return lines, imports
