"""Process descriptions generated from describe documents are valid OGC process descriptions."""

from __future__ import annotations

import pytest
from pesto_factory.runtime.api.ogc.description import ProcessInfo, oas_schema
from pesto_factory.runtime.project import ServiceProject

from tests.conftest import EXAMPLES
from tests.ogc.schemacheck import check
from tests.runtime.conftest import MISBEHAVING

COG = "image/tiff; application=geotiff; profile=cloud-optimized"
PROJECTS = {"ndvi": EXAMPLES / "ndvi", "tiling": EXAMPLES / "tiling",
            "cloud-detection": EXAMPLES / "cloud-detection", "merge": EXAMPLES / "merge",
            "misbehaving": MISBEHAVING}


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_every_example_has_a_valid_process_description(name):
    process = ProcessInfo(ServiceProject.load(PROJECTS[name], ()).describe())
    description = check(process.description("http://host"), "process")
    check({"processes": [process.summary("http://host")], "links": []}, "processList")
    assert description["id"] == name


def test_images_and_references_in_the_chain():
    tiling = ProcessInfo(ServiceProject.load(EXAMPLES / "tiling", ()).describe())
    scene = tiling.description("http://host")["inputs"]["scene"]["schema"]
    image, ref = scene["anyOf"]
    assert image["contentMediaType"] == COG and ref["required"] == ["href"]
    assert ref["properties"]["window"]["required"] == ["col_off", "row_off", "width", "height"]
    assert tiling.images["tiles"].is_list
    merge = ProcessInfo(ServiceProject.load(EXAMPLES / "merge", ()).describe())
    assert merge.images["quicklook"].media_type == "image/png"
    assert merge.description("http://host")["outputs"]["quicklook"]["schema"][
        "contentMediaType"] == "image/png"


def test_json_schema_keywords_become_openapi_30():
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "x-pesto-read": "header",
              "type": ["number", "null"], "exclusiveMinimum": 0, "const": 1, "examples": [1],
              "if": {}, "propertyNames": {"pattern": "a"}}
    assert oas_schema(schema, {}) == {"type": "number", "nullable": True, "minimum": 0,
                                      "exclusiveMinimum": True, "enum": [1], "example": 1}
    assert oas_schema({"type": ["string", "integer"]}, {}) == {
        "oneOf": [{"type": "string"}, {"type": "integer"}]}
    assert oas_schema({"$ref": "#/definitions/T", "description": "here"},
                      {"T": {"type": "object", "required": []}}) == {
        "type": "object", "description": "here"}
