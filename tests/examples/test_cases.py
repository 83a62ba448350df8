"""The projects' own test cases (pesto/tests) pass against the running services of the chain.

What `packager test examples/<name> --local` checks, on the services the chain tests started:
each case's outputs, and the describe document against expected_describe.json.
"""

from __future__ import annotations

import pytest

from tests.examples.conftest import EXAMPLES

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")]


@pytest.mark.parametrize("project", ["tiling", "cloud-detection", "merge"])
def test_project_cases_and_describe_pass(chain, project):
    from pesto_factory.adapters.client import ServiceClient
    from pesto_factory.packager.cases import expected_describe, load_cases
    from pesto_factory.packager.compare import Tolerance, compare_outputs, json_diff

    service = {"tiling": chain.tiling, "cloud-detection": chain.detection,
               "merge": chain.merge}[project]
    cases = load_cases(EXAMPLES / project)
    assert cases
    with ServiceClient(service.url, process_timeout=60) as client:
        for case in cases:
            result = client.process(case.payload, inline=True)
            assert compare_outputs(case.expected, result, Tolerance()) == [], case.name
        live = {k: v for k, v in client.describe().items() if k != "_links"}
    assert json_diff(expected_describe(EXAMPLES / project, ()), live) == []
