"""JSON Schemas of the PESTO factory, shipped as package data.

A schema is data, not code: this module only finds and loads the JSON files beside it, so that
the runtime, the packager and the adapters validate against one copy.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA_DIR", "load_schema", "schema_path", "DATA_TYPES"]

SCHEMA_DIR = Path(__file__).resolve().parent

#: Names of the shared data types in definitions.json that services reference.
DATA_TYPES = (
    "Image", "Images", "ImageRef", "ImageRefs", "Polygon", "Polygons", "Metadata", "Metadatas",
)


def schema_path(name: str) -> Path:
    """Path of a schema file by name, with or without its `.json` suffix."""
    filename = name if name.endswith(".json") else f"{name}.json"
    path = SCHEMA_DIR / filename
    if not path.is_file():
        raise FileNotFoundError(f"no schema named {name!r} in {SCHEMA_DIR}")
    return path


@cache
def _load(name: str) -> str:
    return schema_path(name).read_text(encoding="utf-8")


def load_schema(name: str) -> dict[str, Any]:
    """A fresh copy of a schema (callers may modify it)."""
    return json.loads(_load(name))
