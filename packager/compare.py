"""Comparing a service's results with what a test case expects, as readable differences.

JSON values and strings must be equal; numbers from `.float` files and images match within a
tolerance (`rtol`, `atol`, as numpy.isclose). Images must also agree in shape, dtype, CRS and
transform. Each difference names where it is, as a JSON pointer into the result.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pesto_factory.packager.cases import Expected

__all__ = ["Tolerance", "compare_outputs", "json_diff"]


@dataclass(frozen=True)
class Tolerance:
    rtol: float = 1e-5
    atol: float = 1e-6


def _show(value: Any, limit: int = 80) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def json_diff(expected: Any, actual: Any, pointer: str = "") -> list[str]:
    """Differences between two JSON values, one line each, by JSON pointer."""
    where = pointer or "/"
    if isinstance(expected, dict) and isinstance(actual, dict):
        lines = []
        for key in expected:
            child = f"{pointer}/{key}"
            if key not in actual:
                lines.append(f"{child}: missing (expected {_show(expected[key])})")
            else:
                lines += json_diff(expected[key], actual[key], child)
        lines += [f"{pointer}/{key}: unexpected {_show(actual[key])}"
                  for key in actual if key not in expected]
        return lines
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{where}: expected {len(expected)} items, got {len(actual)}"]
        lines = []
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            lines += json_diff(left, right, f"{pointer}/{index}")
        return lines
    if type(expected) is not type(actual) and not (
            isinstance(expected, int | float) and isinstance(actual, int | float)
            and not isinstance(expected, bool) and not isinstance(actual, bool)):
        return [f"{where}: expected {_show(expected)}, got {_show(actual)}"]
    if expected != actual:
        return [f"{where}: expected {_show(expected)}, got {_show(actual)}"]
    return []


def _image_bytes(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"expected an image (base64 or URI), got {_show(value)}")
    if value.startswith("data:"):
        value = value.split(",", 1)[1]
    elif value.startswith("file://"):
        return Path(unquote(urlparse(value).path)).read_bytes()
    return base64.b64decode(value, validate=True)


def _compare_image(expected: Expected, actual: Any, where: str, tol: Tolerance) -> list[str]:
    import numpy as np
    from rasterio.io import MemoryFile

    try:
        data = _image_bytes(actual)
    except (ValueError, OSError) as exc:
        return [f"{where}: {exc}"]
    with MemoryFile(data) as memory, memory.open() as got, \
            MemoryFile(expected.path.read_bytes()) as ref_memory, ref_memory.open() as ref:
        lines = []
        if (got.count, got.height, got.width) != (ref.count, ref.height, ref.width):
            return [f"{where}: image shape (bands, rows, cols) expected "
                    f"{(ref.count, ref.height, ref.width)}, got {(got.count, got.height, got.width)}"]
        if got.dtypes[0] != ref.dtypes[0]:
            lines.append(f"{where}: image dtype expected {ref.dtypes[0]}, got {got.dtypes[0]}")
        if got.crs != ref.crs:
            lines.append(f"{where}: image CRS expected {ref.crs}, got {got.crs}")
        if not got.transform.almost_equals(ref.transform, precision=1e-9):
            lines.append(f"{where}: image transform expected {tuple(ref.transform)[:6]}, "
                         f"got {tuple(got.transform)[:6]}")
        left, right = ref.read().astype("float64"), got.read().astype("float64")
        close = np.isclose(right, left, rtol=tol.rtol, atol=tol.atol, equal_nan=True)
        if not close.all():
            bad = int((~close).sum())
            with np.errstate(invalid="ignore"):
                worst = float(np.nanmax(np.abs(right - left)[~close])) if bad else 0.0
            lines.append(f"{where}: {bad} of {close.size} pixel values differ "
                         f"(largest difference {worst:g}; rtol={tol.rtol:g}, atol={tol.atol:g})")
        return lines


def _compare_value(expected: Any, actual: Any, where: str, tol: Tolerance) -> list[str]:
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where or '/'}: expected an object, got {_show(actual)}"]
        return compare_outputs(expected, actual, tol, pointer=where)
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: expected a list of {len(expected)}, got {_show(actual)}"]
        lines = []
        for index, (item, got) in enumerate(zip(expected, actual, strict=True)):
            lines += _compare_value(item, got, f"{where}/{index}", tol)
        return lines
    assert isinstance(expected, Expected)
    if expected.kind == "image":
        return _compare_image(expected, actual, where, tol)
    if expected.kind == "float":
        if isinstance(actual, bool) or not isinstance(actual, int | float):
            return [f"{where}: expected a number near {expected.value:g}, got {_show(actual)}"]
        if not math.isclose(actual, expected.value, rel_tol=tol.rtol, abs_tol=tol.atol):
            return [f"{where}: expected {expected.value!r} (rtol={tol.rtol:g}, atol={tol.atol:g}),"
                    f" got {actual!r}"]
        return []
    return json_diff(expected.value, actual, where)


def compare_outputs(expected: dict[str, Any], actual: dict[str, Any], tol: Tolerance, *,
                    pointer: str = "") -> list[str]:
    """Differences between a case's expected outputs and a result; empty when they match."""
    lines = []
    for key, value in expected.items():
        child = f"{pointer}/{key}"
        if key not in actual:
            lines.append(f"{child}: missing from the result")
        else:
            lines += _compare_value(value, actual[key], child, tol)
    lines += [f"{pointer}/{key}: not expected (add output/{key}.* to check it)"
              for key in actual if key not in expected]
    return lines
