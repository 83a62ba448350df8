"""Test cases of a service project: pesto/tests/<case>/{input,output}/, files by extension.

Each file of `input/` is one field of the process payload, named by its stem and decoded by its
extension; each file of `output/` is one expected field of the result:

    .json .geojson   JSON value            .string .txt   text (one trailing newline dropped)
    .int             integer               .float         number (compared with a tolerance)
    .tif .tiff .png .jpg .jpeg             image (sent as base64; compared pixel by pixel)

A folder is a list when all its entries are named 0, 1, 2... and an object otherwise.
pesto/tests/expected_describe.json (with `.PROFILE.json` overlays) is the expected describe
document. `packager run ... --output DIR` writes results in this same layout, so a checked
result can become a case's `output/`.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pesto_factory.schemas.errors import ProjectError

__all__ = ["Expected", "TestCase", "load_cases", "read_payload_dir", "read_expected_dir",
           "IMAGE_SUFFIXES", "expected_describe"]

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
_JSON, _TEXT = (".json", ".geojson"), (".string", ".txt")


@dataclass(frozen=True)
class Expected:
    """One expected output value: how to compare it, and where it came from."""

    kind: str  # "json", "string", "int", "float" or "image"
    path: Path
    value: Any = None  # the decoded value (None for images: compared from the file)


@dataclass(frozen=True)
class TestCase:
    name: str
    path: Path
    payload: dict[str, Any]
    expected: dict[str, Any]  # field -> Expected, or lists / dicts of them


def _read_text(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    return text[:-1] if text.endswith("\n") else text


def _decode(path: Path) -> tuple[str, Any]:
    suffix = path.suffix.lower()
    try:
        if suffix in _JSON:
            return "json", json.loads(path.read_text(encoding="utf-8"))
        if suffix in _TEXT:
            return "string", _read_text(path)
        if suffix == ".int":
            return "int", int(path.read_text(encoding="utf-8").strip())
        if suffix == ".float":
            return "float", float(path.read_text(encoding="utf-8").strip())
    except json.JSONDecodeError as exc:
        raise ProjectError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                           path=str(path)) from None
    except ValueError as exc:
        raise ProjectError(f"cannot read a {suffix[1:]} value: {exc}", path=str(path)) from None
    if suffix in IMAGE_SUFFIXES:
        return "image", None
    raise ProjectError(f"unknown test file type {suffix or '(none)'}",
                       path=str(path), hint="use .json .geojson .string .int .float .tif .png")


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def _walk(folder: Path, leaf: Any) -> Any:
    """A folder as a list (entries 0, 1, ...) or an object (entries by stem)."""
    entries = _entries(folder)
    stems = [entry.name if entry.is_dir() else entry.stem for entry in entries]
    if len(set(stems)) != len(stems):
        raise ProjectError("two entries have the same name (stem)", path=str(folder))
    values = [_walk(e, leaf) if e.is_dir() else leaf(e) for e in entries]
    if entries and all(stem.isdigit() for stem in stems):
        order = sorted(range(len(stems)), key=lambda i: int(stems[i]))
        return [values[i] for i in order]
    return dict(zip(stems, values, strict=True))


def _payload_leaf(path: Path) -> Any:
    kind, value = _decode(path)
    if kind == "image":
        return base64.b64encode(path.read_bytes()).decode("ascii")
    return value


def _expected_leaf(path: Path) -> Expected:
    kind, value = _decode(path)
    return Expected(kind=kind, path=path, value=value)


def read_payload_dir(folder: Path) -> dict[str, Any]:
    """The process payload an `input/` folder describes."""
    payload = _walk(folder, _payload_leaf)
    if not isinstance(payload, dict):
        raise ProjectError("an input folder must name fields, not be a list", path=str(folder))
    return payload


def read_expected_dir(folder: Path) -> dict[str, Any]:
    expected = _walk(folder, _expected_leaf)
    if not isinstance(expected, dict):
        raise ProjectError("an output folder must name fields, not be a list", path=str(folder))
    return expected


def load_cases(root: Path, *, only: list[str] | None = None) -> list[TestCase]:
    """Every case of pesto/tests (or only the named ones), in name order."""
    tests = Path(root) / "pesto" / "tests"
    if not tests.is_dir():
        raise ProjectError("no test cases: folder not found", path=str(tests),
                           hint="add pesto/tests/<case>/input and output folders")
    cases = []
    for folder in _entries(tests):
        if not folder.is_dir() or (only and folder.name not in only):
            continue
        inputs, outputs = folder / "input", folder / "output"
        for needed in (inputs, outputs):
            if not needed.is_dir():
                raise ProjectError("folder not found", path=str(needed))
        cases.append(TestCase(name=folder.name, path=folder, payload=read_payload_dir(inputs),
                              expected=read_expected_dir(outputs)))
    if only:
        missing = sorted(set(only) - {case.name for case in cases})
        if missing:
            raise ProjectError(f"no test case named {missing[0]!r}", path=str(tests))
    return cases


def expected_describe(root: Path, profiles: tuple[str, ...]) -> dict[str, Any] | None:
    """pesto/tests/expected_describe.json with the profiles' overlays, or None if absent."""
    from pesto_factory.runtime.configfiles import read_with_profiles

    path = Path(root) / "pesto" / "tests" / "expected_describe.json"
    return read_with_profiles(path, profiles, required=False)
