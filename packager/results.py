"""A process result written as files, in the layout of a test case's `output/` folder.

Image fields (the output schema says `Image` or `Images`) become GeoTIFF files decoded from
their base64; integers `.int`, numbers `.float`, strings `.string`, anything else `.json`. The
folder is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from pesto_factory.packager.fileutil import staged_dir
from pesto_factory.runtime.project import image_kind

__all__ = ["image_fields", "write_result_dir", "summarise"]


def image_fields(describe: dict[str, Any]) -> dict[str, str]:
    """Output field -> `Image` or `Images`, from a describe document's output schema."""
    content = describe.get("output", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    found = {}
    for name, prop in schema.get("properties", {}).items():
        kind = image_kind(prop) if isinstance(prop, dict) else None
        if kind in ("Image", "Images"):
            found[name] = kind
    return found


def _image_bytes(value: str) -> bytes:
    if value.startswith("data:"):
        value = value.split(",", 1)[1]
    return base64.b64decode(value)


def _write_value(folder: Path, name: str, value: Any, kind: str | None) -> None:
    if kind == "Image" and isinstance(value, str):
        (folder / f"{name}.tif").write_bytes(_image_bytes(value))
    elif kind == "Images" and isinstance(value, list):
        sub = folder / name
        sub.mkdir()
        for index, item in enumerate(value):
            _write_value(sub, str(index), item, "Image")
    elif isinstance(value, bool) or value is None or isinstance(value, dict | list):
        (folder / f"{name}.json").write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
    elif isinstance(value, int):
        (folder / f"{name}.int").write_text(f"{value}\n", encoding="utf-8")
    elif isinstance(value, float):
        (folder / f"{name}.float").write_text(f"{value!r}\n", encoding="utf-8")
    else:
        (folder / f"{name}.string").write_text(f"{value}\n", encoding="utf-8")


def write_result_dir(result: dict[str, Any], describe: dict[str, Any], dest: Path) -> None:
    """Write `result` into `dest` (replaced if it exists), one file or folder per field."""
    kinds = image_fields(describe)
    with staged_dir(dest.resolve()) as tmp:
        for name, value in result.items():
            _write_value(tmp, name, value, kinds.get(name))


def summarise(result: dict[str, Any], describe: dict[str, Any]) -> dict[str, Any]:
    """The result with each inline image replaced by a short note (for printing)."""
    kinds = image_fields(describe)

    def note(value: Any) -> Any:
        if isinstance(value, str):
            return f"<image, {len(_image_bytes(value))} bytes; use --output DIR to save it>"
        return value

    return {name: (note(value) if kinds.get(name) == "Image" else
                   [note(v) for v in value] if kinds.get(name) == "Images"
                   and isinstance(value, list) else value)
            for name, value in result.items()}
