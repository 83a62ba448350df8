"""The one typed view of a describe document and the one collector of a pipeline's documents:
from a describe JSON file, a running service (real, on 127.0.0.1) and a project folder
(`pesto-runtime describe` in a subprocess, as a base install without the runtime imported)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pesto_factory.adapters.pipeline import (
    DescribeError,
    ServiceDescription,
    collect_describes,
    describe_view,
    load_pipeline,
    resolve_schema,
)
from pesto_factory.adapters.pipeline.model import ServiceRef
from pesto_factory.runtime.project import ServiceProject

from tests.conftest import EXAMPLES

MERGE = EXAMPLES / "merge"


@pytest.fixture(scope="module")
def merge_describe() -> dict:
    return ServiceProject.load(MERGE).describe()


def test_the_view_reads_both_schemas_and_resolves_refs_once(merge_describe) -> None:
    view = describe_view(merge_describe, "merge")
    assert isinstance(view, ServiceDescription) and view == merge_describe  # still the document
    assert view.name == "pesto/merge" and view["title"] == merge_describe["title"]
    assert set(view.input_schema["properties"]) == {"scene", "tiles"}
    assert "mask" in view.output_schema["properties"]
    scene = view.properties("input")["scene"]  # $ref: #/definitions/Image followed
    assert scene["type"] == "string" and "$ref" not in scene
    assert describe_view(view) is view


def test_resolve_falls_back_to_the_shared_definitions_and_stops_on_cycles() -> None:
    schema, root = resolve_schema({"$ref": "#/definitions/Window"}, {})  # not bundled here
    assert set(schema["properties"]) >= {"col_off", "row_off", "width", "height"}
    assert "definitions" in root
    cyclic = {"definitions": {"a": {"$ref": "#/definitions/a"}}}
    assert resolve_schema({"$ref": "#/definitions/a"}, cyclic)[0] is None
    assert resolve_schema({"$ref": "http://elsewhere/x"}, {})[0] is None


@pytest.mark.slow
def test_collect_from_a_file_a_project_folder_and_a_running_service(tmp_path, merge_describe
                                                                    ) -> None:
    from tests.conftest import start_service

    merge = start_service(MERGE, tmp_path / "state")
    try:
        _check_collect(tmp_path, merge.url, merge_describe)
    finally:
        merge.stop()


def _check_collect(tmp_path: Path, url: str, merge_describe: dict) -> None:
    file = tmp_path / "merge.json"
    file.write_text(json.dumps(merge_describe))
    services = {
        "from_file": ServiceRef("from_file", image="pesto/merge:1.0.0"),
        "from_project": ServiceRef("from_project", project=MERGE),
        "from_url": ServiceRef("from_url", url=url),
    }
    found = collect_describes(services, files={"from_file": file})
    # the project folder went through `pesto-runtime describe` in a subprocess
    for name in services:
        view = found[name]
        assert {k: v for k, v in view.items() if k != "_links"} == merge_describe, name
    assert found["from_file"].source == str(file)
    only = collect_describes(services, only_projects=True)
    assert list(only) == ["from_project"]


def test_collect_names_what_is_missing(tmp_path) -> None:
    with pytest.raises(DescribeError, match="service 'img' is an image: give its describe"):
        collect_describes({"img": ServiceRef("img", image="x:1")})
    with pytest.raises(DescribeError, match="service 'img': cannot read its describe file"):
        collect_describes({"img": ServiceRef("img", image="x:1")},
                          files={"img": tmp_path / "missing.json"})
    with pytest.raises(DescribeError, match=r"cannot describe it: .*not a service project"):
        collect_describes({"p": ServiceRef("p", project=tmp_path)})


def test_the_example_spec_is_collected_in_process_when_asked() -> None:
    pipeline = load_pipeline(EXAMPLES / "pipelines" / "cloud_mask.yaml")
    seen = []

    def describe(project: Path, profiles: tuple[str, ...]) -> dict:
        seen.append(project.name)
        return ServiceProject.load(project, profiles).describe()

    found = collect_describes(pipeline.services, describe_project=describe)
    assert sorted(seen) == sorted(found) == sorted(pipeline.services)
