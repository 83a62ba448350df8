"""`packager emit conductor`: the files it writes, and the committed example files."""

from __future__ import annotations

import json
from pathlib import Path

from pesto_factory.packager.cli import main

REPO = Path(__file__).resolve().parents[3]
SPEC = REPO / "examples" / "pipelines" / "cloud_mask.yaml"


def test_committed_workflows_equal_a_fresh_generation(tmp_path, capsys):
    assert main(["emit", "conductor", str(SPEC), "--out", str(tmp_path)]) == 0
    assert "wrote" in capsys.readouterr().out
    written = sorted(path.name for path in tmp_path.iterdir())
    assert written == ["cloud-mask.workflow.json", "taskdefs.json"]
    for name in written:
        assert (REPO / "workflows" / name).read_text() == (tmp_path / name).read_text(), (
            f"workflows/{name} differs from a fresh generation: run "
            "`packager emit conductor examples/pipelines/cloud_mask.yaml --out workflows`")
    names = [task["name"] for task in json.loads((tmp_path / "taskdefs.json").read_text())]
    assert names == ["pesto_cloud_detection", "pesto_merge", "pesto_tiling"]


def test_a_profile_of_an_unknown_service_is_refused(tmp_path, capsys):
    code = main(["emit", "conductor", str(SPEC), "-o", str(tmp_path), "-p", "nope=dl"])
    assert code != 0
    assert "--profile nope: no such service" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
