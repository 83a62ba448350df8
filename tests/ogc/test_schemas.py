"""The schema check itself: the standard's own examples pass it, and broken documents do not."""

from __future__ import annotations

import json

import pytest

from tests.ogc.schemacheck import SCHEMAS, errors

#: The examples of answers that agree with the schemas of the same branch. Result.json is the one
#: that needs the anyOf reading. The others predate their schema (StatusInfo*.json and
#: JobList.json lack the required `type`; ProcessDescription.json `$ref`s files outside the
#: folder), and Execute.json is a request: requests are not validated here.
EXAMPLES = {
    "ConfClasses.json": "confClasses", "LandingPage.json": "landingPage",
    "ProcessList.json": "processList", "Result.json": "results",
}


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_the_standards_examples_are_valid(example):
    document = json.loads((SCHEMAS / "examples" / example).read_text(encoding="utf-8"))
    assert errors(document, EXAMPLES[example]) == []


def test_broken_documents_are_not():
    assert errors({"jobID": "1", "type": "process", "status": "done"}, "statusInfo")
    assert errors({"processes": []}, "processList")  # links missing
    assert errors({"title": "no type"}, "exception")
    assert errors({"out": {"value": 1, "mediaType": 3}}, "results")
    assert errors({"id": "p", "version": "1", "inputs": {"x": {"schema": {"type": "null"}}}},
                  "process")
