"""The suite fails instead of skipping (tests/skip_policy.py), except for allowed reasons."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_pytest(tmp_path: Path, body: str, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_case.py").write_text("import pytest\n\n" + body)
    environment = {k: v for k, v in os.environ.items() if k != "PESTO_ALLOW_SKIPS"} | env
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c",
         str(REPO / "pyproject.toml"), "--rootdir", str(REPO), str(tmp_path / "test_case.py")],
        capture_output=True, text=True, cwd=REPO, env=environment, timeout=120, check=False)


def test_a_skip_for_missing_data_fails_the_run(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "def test_x():\n    pytest.skip('crop not found')\n")
    assert done.returncode == 1, done.stdout
    assert "NOT ALLOWED: " in done.stdout and "crop not found" in done.stdout


def test_an_allowed_reason_passes_and_is_listed(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "def test_x():\n    pytest.skip('needs a GPU')\n")
    assert done.returncode == 0, done.stdout
    assert "allowed: " in done.stdout and "needs a GPU" in done.stdout


def test_a_developer_may_allow_skips_for_a_partial_run(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "def test_x():\n    pytest.skip('no server')\n",
                      PESTO_ALLOW_SKIPS="1")
    assert done.returncode == 0, done.stdout
