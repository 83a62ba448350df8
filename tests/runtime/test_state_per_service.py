"""One job store per service by default: services started from one folder never share jobs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pesto_factory.runtime.project import ServiceProject
from pesto_factory.runtime.service import ProcessingService
from pesto_factory.runtime.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_services_started_from_one_folder_get_their_own_job_store(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PESTO_STATE_DIR", raising=False)
    tiling = ProcessingService(ServiceProject.load(EXAMPLES / "tiling", ()), Settings())
    merge = ProcessingService(ServiceProject.load(EXAMPLES / "merge", ()), Settings())
    assert tiling.settings.state_dir == Path(".pesto-state/pesto-tiling")
    assert merge.settings.state_dir == Path(".pesto-state/pesto-merge")
    assert tiling.outputs_dir != merge.outputs_dir
    # merge's running job: not listed by tiling, not failed as interrupted by tiling's restart
    merge.store.add("job-1", tmp_path / "out")
    merge.store.mark_running("job-1")
    assert tiling.store.get("job-1") is None
    assert tiling.store.fail_interrupted() == 0
    assert merge.store.get("job-1").status.value == "RUNNING"


def test_an_explicit_state_dir_is_kept_as_given(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PESTO_STATE_DIR", str(tmp_path / "state"))
    service = ProcessingService(ServiceProject.load(EXAMPLES / "tiling", ()), Settings())
    assert service.settings.state_dir == tmp_path / "state"
