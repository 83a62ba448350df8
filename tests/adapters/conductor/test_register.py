"""`packager conductor register`: through the SDK's public metadata client, idempotent on a
server older than v3.31.2 (no POST overwrite), the workflow version kept when unchanged and
bumped when the definition changed."""

from __future__ import annotations

import json

import httpx
import pytest
from pesto_factory.packager.cli import main

from tests.adapters.conductor.conftest import serving
from tests.adapters.conductor.server import ConductorState
from tests.adapters.conftest import SQUARES


@pytest.fixture
def old_server():
    """A 3.x server that answers 409 to a second `POST /metadata/workflow?overwrite=true`."""
    with serving(ConductorState(post_overwrite=False)) as server:
        yield server


def _register(server, *args: str) -> int:
    return main(["conductor", "register", "--server", server.url, *args])


def test_registering_twice_writes_nothing_and_a_change_bumps_the_version(old_server, capsys):
    assert _register(old_server, str(SQUARES)) == 0
    first = capsys.readouterr().out
    assert "task pesto_tests_square: created" in first and "workflow squares v1: created" in first
    writes = list(old_server.state.writes)
    assert ("PUT", "workflow squares v1") in writes
    assert _register(old_server, str(SQUARES)) == 0
    again = capsys.readouterr().out
    assert "workflow squares v1: unchanged" in again and "created" not in again
    assert old_server.state.writes == writes  # nothing written the second time
    assert _register(old_server, str(SQUARES), "--option", "batch_size=5") == 0
    assert "workflow squares v2: new version" in capsys.readouterr().out
    for version, batch in ((None, 5), (1, 100), (2, 5)):
        found = httpx.get(f"{old_server.url}/metadata/workflow/squares",
                          params={"version": version} if version else {}).json()
        prep = next(t for t in found["tasks"] if t["taskReferenceName"] == "squares__fork")
        assert (found["version"], prep["inputParameters"]["batch"]) == (version or 2, batch)


def test_a_folder_of_emitted_files_registers_and_a_refusal_is_named(old_server, tmp_path,
                                                                    capsys):
    assert main(["emit", "conductor", str(SQUARES), "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert _register(old_server, str(tmp_path)) == 0
    assert "workflow squares v1: created" in capsys.readouterr().out
    task_defs = json.loads((tmp_path / "taskdefs.json").read_text())
    task_defs[0]["responseTimeoutSeconds"] = 10 ** 6  # above timeoutSeconds: refused
    (tmp_path / "taskdefs.json").write_text(json.dumps(task_defs))
    assert _register(old_server, str(tmp_path)) == 1
    assert "Conductor refused a definition (400)" in capsys.readouterr().err
    (tmp_path / "taskdefs.json").unlink()
    (tmp_path / "squares.workflow.json").unlink()
    assert _register(old_server, str(tmp_path)) == 1
    assert "no taskdefs.json or *.workflow.json" in capsys.readouterr().err


def test_an_unreachable_server_is_named(capsys):
    from tests.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}/api"
    assert main(["conductor", "register", "--server", url, str(SQUARES)]) == 1
    assert f"Conductor at {url}: no answer" in capsys.readouterr().err
