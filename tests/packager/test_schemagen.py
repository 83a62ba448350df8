"""schemagen: data types as $refs into definitions.json, from both kinds of marker."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from pesto_factory.packager.schemagen import generate_schemas
from pesto_factory.runtime.project import ServiceProject

from tests.packager.conftest import run_cli

MODELS = '''
from __future__ import annotations
from typing import Annotated
from pydantic import BaseModel, Field
from pesto_factory.packager.types import Image, Images, ImageRef, ImageRefs, Metadata, Polygon, Polygons

class Options(BaseModel):
    level: int = 2

class Input(BaseModel):
    scene: Annotated[str, Image] = Field(description="the scene")
    legacy: str = Field(json_schema_extra={"$ref": "#/definitions/Image"}, description="old way")
    tiles: Annotated[list[dict], ImageRefs]
    tile: Annotated[dict, ImageRef] | None = None
    aoi: Annotated[dict, Polygon] | None = None
    zones: Annotated[list[dict], Polygons] = Field(default_factory=list)
    extra: Annotated[dict, Metadata] = Field(default_factory=dict)
    stack: Annotated[list[str], Images] = Field(default_factory=list)
    options: Options = Options()
    ratio: float | None = None

class Output(BaseModel):
    mask: Annotated[str, Image]
    count: int = Field(ge=0, description="objects found")
'''


def _project(root: Path) -> Path:
    (root / "algorithm").mkdir(parents=True)
    (root / "algorithm" / "input_output.py").write_text(MODELS)
    return root


def test_data_types_become_bare_refs(tmp_path: Path) -> None:
    generated = generate_schemas(_project(tmp_path / "p"), name="svc")
    props = generated.input["properties"]
    assert props["scene"] == {"$ref": "#/definitions/Image", "description": "the scene"}
    assert props["legacy"] == {"$ref": "#/definitions/Image", "description": "old way"}
    assert props["tiles"] == {"$ref": "#/definitions/ImageRefs"}
    assert props["stack"] == {"$ref": "#/definitions/Images"}
    assert props["extra"] == {"$ref": "#/definitions/Metadata"}
    assert props["zones"] == {"$ref": "#/definitions/Polygons"}
    assert {"$ref": "#/definitions/Polygon"} in props["aoi"]["anyOf"]
    assert {"$ref": "#/definitions/ImageRef"} in props["tile"]["anyOf"]
    # nested models are the schema's own definitions; plain unions fold into a type list
    assert props["options"]["$ref"] == "#/definitions/Options"
    assert generated.input["definitions"]["Options"]["properties"]["level"]["default"] == 2
    assert props["ratio"]["type"] == ["number", "null"]
    assert sorted(generated.input["required"]) == ["legacy", "scene", "tiles"]
    assert generated.input["title"] == "svc-input"
    assert generated.output["properties"]["count"] == {
        "description": "objects found", "minimum": 0, "type": "integer"}


def test_generated_schemas_bundle_and_validate(tmp_path: Path) -> None:
    """Written into a project, the schemas resolve against definitions.json and validate."""
    from tests.packager.conftest import NDVI, copy_project

    root = copy_project(NDVI, tmp_path / "p")
    (root / "algorithm" / "input_output.py").write_text(MODELS)
    done = run_cli("schemagen", root, "--force")
    assert done.returncode == 0, done.stderr
    schema = ServiceProject.load(root).input_schema
    validator = jsonschema.Draft7Validator(schema)
    good = {"scene": "file:///x.tif", "legacy": "abc", "tiles": [{"href": "file:///t.tif"}]}
    assert not list(validator.iter_errors(good))
    assert list(validator.iter_errors({**good, "tiles": [{"window": {}}]}))  # href required


def test_schemagen_refuses_to_overwrite_edited_files(ndvi: Path) -> None:
    path = ndvi / "pesto" / "api" / "input_schema.json"
    before = path.read_text()  # the example's hand-written schema differs (additionalProperties)
    done = run_cli("schemagen", ndvi)
    assert done.returncode == 1
    assert "were edited by hand since schemagen wrote them" in done.stderr
    assert "input_schema.json" in done.stderr and "--force" in done.stderr
    assert path.read_text() == before
    assert run_cli("schemagen", ndvi, "--force").returncode == 0
    assert json.loads(path.read_text())["properties"]["image"]["$ref"] == "#/definitions/Image"
    again = run_cli("schemagen", ndvi)
    assert again.returncode == 0 and "unchanged" in again.stderr


def test_schemagen_regenerates_its_own_files_after_a_model_edit(tmp_path: Path) -> None:
    """The walkthrough's loop: init, edit the models, schemagen again: no --force needed."""
    assert run_cli("init", tmp_path / "svc").returncode == 0
    root = tmp_path / "svc"
    models = root / "algorithm" / "input_output.py"
    models.write_text(MODELS)
    done = run_cli("schemagen", root)
    assert done.returncode == 0, done.stderr
    assert "written" in done.stderr
    schema = json.loads((root / "pesto" / "api" / "input_schema.json").read_text())
    assert sorted(schema["required"]) == ["legacy", "scene", "tiles"]
    # a hand edit of a generated file is then protected, and named
    path = root / "pesto" / "api" / "output_schema.json"
    path.write_text(path.read_text().replace('"objects found"', '"objects seen"'))
    models.write_text(MODELS.replace("objects found", "objects counted"))
    refused = run_cli("schemagen", root)
    assert refused.returncode == 1 and "output_schema.json" in refused.stderr
    assert "input_schema.json" not in refused.stderr.split("kept:")[1]
    assert '"objects seen"' in path.read_text()


def test_schemagen_reports_a_broken_module(ndvi: Path) -> None:
    (ndvi / "algorithm" / "input_output.py").write_text("import not_a_module\n")
    done = run_cli("schemagen", ndvi)
    assert done.returncode == 1 and "input_output.py: cannot import" in done.stderr
    assert "Traceback" not in done.stderr
