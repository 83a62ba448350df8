"""Input and output JSON Schemas generated from the algorithm's typed pydantic models.

`algorithm/input_output.py` declares `Input` and `Output` (pydantic). A field is one of PESTO's
shared data types when it is marked, either with the annotation marker of `pesto_factory.packager.types`
(`image: Annotated[str, Image]`) or with `Field(json_schema_extra={"$ref": "#/definitions/Image"})`.
Such a field is written as a bare `$ref` (plus its description and default): the definition is
bundled from schemas/definitions.json when the describe document is built. Nested models become
the schema's own `definitions`.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pesto_factory.packager.types import FOREIGN_REF
from pesto_factory.schemas.errors import ProjectError
from pydantic.json_schema import GenerateJsonSchema

__all__ = ["GeneratedSchemas", "generate_schemas", "write_schemas", "SchemaFile"]

_DRAFT7 = "http://json-schema.org/draft-07/schema#"
#: Keys kept beside a `$ref` to a data type; anything else pydantic adds there (type, title,
#: format) would contradict the referenced definition.
_KEPT_WITH_REF = ("$ref", "description", "default", "examples", "x-pesto-read", "contentMediaType")


class _Generator(GenerateJsonSchema):
    """pydantic's generator, without the auto-generated per-field titles ("Red Band")."""

    def field_title_should_be_set(self, schema: Any) -> bool:  # noqa: ARG002 - pydantic hook
        return False

    def handle_ref_overrides(self, json_schema: Any) -> Any:
        # A data-type `$ref` from json_schema_extra points into definitions.json, which pydantic
        # does not know: it is given a URL form pydantic leaves alone, restored afterwards.
        ref = json_schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFINITIONS):
            json_schema = {**json_schema, "$ref": FOREIGN_REF + ref.removeprefix(_DEFINITIONS)}
        return super().handle_ref_overrides(json_schema)


_DEFINITIONS = "#/definitions/"


@dataclass(frozen=True)
class GeneratedSchemas:
    input: dict[str, Any]
    output: dict[str, Any]


@dataclass(frozen=True)
class SchemaFile:
    path: Path
    status: str  # "written", "unchanged" or "edited" (edited by hand: kept unless --force)


def _load_module(project_root: Path, algorithm_dir: Path) -> Any:
    path = algorithm_dir / "input_output.py"
    if not path.is_file():
        raise ProjectError("file not found (schemagen reads the Input and Output models)",
                           path=str(path))
    name = f"{algorithm_dir.name}.input_output"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    # Registered while it runs, so that postponed annotations resolve in its namespace.
    sys.modules[name] = module
    sys.path.insert(0, str(project_root))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ProjectError(f"cannot import: {type(exc).__name__}: {exc}", path=str(path)) from exc
    finally:
        sys.path.remove(str(project_root))
        sys.modules.pop(name, None)
    return module


def _model_schema(model: Any, *, title: str | None) -> dict[str, Any]:
    raw = model.model_json_schema(schema_generator=_Generator)
    text = json.dumps(raw).replace('"#/$defs/', f'"{_DEFINITIONS}')
    raw = json.loads(text.replace(f'"{FOREIGN_REF}', f'"{_DEFINITIONS}'))
    schema: dict[str, Any] = {"$schema": _DRAFT7}
    if title:
        schema["title"] = title
    schema.update({k: v for k, v in raw.items() if k not in ("$defs", "title")})
    if raw.get("$defs"):
        schema["definitions"] = raw["$defs"]
    return _tidy(schema)


def _tidy(node: Any) -> Any:
    """Bare `$ref`s for data types; `anyOf` of plain types folded into a `type` list."""
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _tidy(value) for key, value in node.items()}
    if "$ref" in node:
        return {key: node[key] for key in _KEPT_WITH_REF if key in node}
    options = node.get("anyOf")
    if isinstance(options, list) and options and all(
            isinstance(o, dict) and set(o) == {"type"} and isinstance(o["type"], str)
            for o in options):
        rest = {key: value for key, value in node.items() if key != "anyOf"}
        return {"type": [o["type"] for o in options], **rest}
    return node


def generate_schemas(project_root: Path, *, algorithm: str = "algorithm",
                     name: str | None = None) -> GeneratedSchemas:
    """The input and output schemas of the project's `Input` and `Output` models."""
    from pydantic import BaseModel

    root = Path(project_root).resolve()
    module = _load_module(root, root / algorithm)
    result = {}
    for kind in ("Input", "Output"):
        model = getattr(module, kind, None)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise ProjectError(f"no pydantic model named {kind}",
                               path=str(root / algorithm / "input_output.py"))
        title = f"{name}-{kind.lower()}" if name else None
        try:
            result[kind] = _model_schema(model, title=title)
        except Exception as exc:
            raise ProjectError(f"cannot build the JSON Schema of {kind}: {exc}",
                               path=str(root / algorithm / "input_output.py")) from exc
    return GeneratedSchemas(input=result["Input"], output=result["Output"])


def dumps(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


#: What schemagen last wrote, per schema file (sha256 of the text), beside the schemas: a file
#: that still matches is schemagen's own and is regenerated; one that does not was edited.
RECORD = ".schemagen.json"


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_schemas(project_root: Path, generated: GeneratedSchemas, *,
                  force: bool = False) -> list[SchemaFile]:
    """Write pesto/api/{input,output}_schema.json.

    A file schemagen wrote itself is overwritten when the models change; a file edited by hand
    since (or never written by schemagen) is kept unless `force`, and reported as "edited".
    """
    from pesto_factory.packager.fileutil import write_json_atomic, write_text_atomic

    api = Path(project_root) / "pesto" / "api"
    record_path = api / RECORD
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}
    results = []
    for stem, schema in (("input_schema", generated.input), ("output_schema", generated.output)):
        path = api / f"{stem}.json"
        text = dumps(schema)
        if path.exists():
            current = path.read_text(encoding="utf-8")
            try:
                same = json.loads(current) == schema
            except ValueError:
                same = False
            if same:
                record[path.name] = _digest(current)
                results.append(SchemaFile(path, "unchanged"))
                continue
            if record.get(path.name) != _digest(current) and not force:
                results.append(SchemaFile(path, "edited"))
                continue
        write_text_atomic(path, text)
        record[path.name] = _digest(text)
        results.append(SchemaFile(path, "written"))
    write_json_atomic(record_path, dict(sorted(record.items())))
    return results
