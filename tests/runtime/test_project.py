"""ServiceProject: loading, profiles, validation errors that name the file and the place."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from pesto_factory import schemas
from pesto_factory.runtime.configfiles import deep_merge
from pesto_factory.runtime.errors import ProjectError
from pesto_factory.runtime.project import ServiceProject

NDVI = Path(__file__).resolve().parents[2] / "examples" / "ndvi"


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    target = tmp_path / "ndvi"
    shutil.copytree(NDVI, target)
    return target


def write(path: Path, value) -> None:
    path.write_text(json.dumps(value) if not isinstance(value, str) else value)


def test_describe_is_valid_and_self_contained(project_dir: Path) -> None:
    describe = ServiceProject.load(project_dir).describe()
    jsonschema.Draft7Validator(schemas.load_schema("describe")).validate(describe)
    assert describe["name"] == "pesto/ndvi" and describe["version"] == "1.0.0"
    # the Image type travels with the input schema, so generators need no other file
    assert describe["input"]["definitions"]["Image"]["type"] == "string"
    jsonschema.Draft7Validator(describe["input"]).validate({"image": "file:///x.tif"})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(describe["input"]).validate({"image": 3})


def test_nested_definitions_are_bundled(project_dir: Path) -> None:
    write(project_dir / "pesto/api/input_schema.json",
          {"type": "object", "properties": {"tiles": {"$ref": "#/definitions/ImageRefs"}}})
    bundled = ServiceProject.load(project_dir).input_schema["definitions"]
    assert {"ImageRefs", "ImageRef", "Window"} <= set(bundled)


def test_profiles_merge_in_order_objects_merged_lists_replaced(project_dir: Path) -> None:
    api = project_dir / "pesto/api"
    write(api / "description.dl.json", {"title": "NDVI (dl)", "resources": {"ram": 5},
                                        "keywords": ["dl"]})
    write(api / "description.gpu.json", {"title": "NDVI (gpu)", "resources": {"gpu": 1}})
    project = ServiceProject.load(project_dir, ["dl", "gpu"])
    described = project.describe()
    assert described["title"] == "NDVI (gpu)"  # the last profile wins
    assert described["resources"] == {"cpu": 1, "ram": 5, "gpu": 1}  # objects merged
    assert described["keywords"] == ["dl"]  # lists replaced
    assert project.image_tag == "1.0.0-dl-gpu"
    assert described["profiles"] == ["dl", "gpu"]


def test_deep_merge_does_not_modify_its_inputs() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}}
    merged = deep_merge(base, {"a": {"c": [3]}})
    assert merged == {"a": {"b": 1, "c": [3]}} and base == {"a": {"b": 1, "c": [1, 2]}}


def test_unknown_profile_is_named(project_dir: Path) -> None:
    with pytest.raises(ProjectError, match="unknown profile 'gpu'"):
        ServiceProject.load(project_dir, ["gpu"])


def test_invalid_json_names_file_line_and_column(project_dir: Path) -> None:
    write(project_dir / "pesto/api/description.json", '{\n  "title": "x",\n  oops\n}')
    with pytest.raises(ProjectError) as caught:
        ServiceProject.load(project_dir)
    assert "description.json" in caught.value.message
    assert "line 3, column 3" in caught.value.message


def test_schema_violation_names_file_and_pointer(project_dir: Path) -> None:
    write(project_dir / "pesto/build/build.json", {"name": "Pesto/NDVI", "version": "1"})
    with pytest.raises(ProjectError) as caught:
        ServiceProject.load(project_dir)
    assert caught.value.path.endswith("build.json") and caught.value.pointer == "/name"
    assert "does not match" in caught.value.message


def test_config_must_satisfy_config_schema(project_dir: Path) -> None:
    write(project_dir / "pesto/api/config.json", {"bands": "red"})
    with pytest.raises(ProjectError, match=r"config.json at /bands"):
        ServiceProject.load(project_dir)


def test_missing_required_file_and_missing_project(project_dir: Path, tmp_path: Path) -> None:
    (project_dir / "pesto/api/input_schema.json").unlink()
    with pytest.raises(ProjectError, match="input_schema.json: file not found"):
        ServiceProject.load(project_dir)
    with pytest.raises(ProjectError, match="no pesto/ folder"):
        ServiceProject.load(tmp_path / "nowhere")


def test_unknown_definition_is_refused(project_dir: Path) -> None:
    write(project_dir / "pesto/api/input_schema.json",
          {"type": "object", "properties": {"x": {"$ref": "#/definitions/Nope"}}})
    with pytest.raises(ProjectError, match="#/definitions/Nope"):
        ServiceProject.load(project_dir).describe()
