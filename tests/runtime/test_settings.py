"""Settings errors name the environment variable, its value and the allowed values."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pesto_factory.runtime.settings import SettingsError, get_settings

NDVI = Path(__file__).resolve().parents[2] / "examples" / "ndvi"


@pytest.fixture(autouse=True)
def _fresh_settings():
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_bad_value_names_the_variable_and_the_allowed_values(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PESTO_OUTPUT_COMPRESSION", "lzw")
    monkeypatch.setenv("PESTO_WORKERS", "0")
    with pytest.raises(SettingsError) as caught:
        get_settings()
    message = caught.value.message
    assert "PESTO_OUTPUT_COMPRESSION=lzw" in message and "(allowed: zstd, none)" in message
    assert "PESTO_WORKERS=0" in message
    assert "output_compression" not in message


def test_the_runtime_command_prints_one_line_and_exits_1(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pesto_factory.runtime.cli", "serve", str(NDVI)],
        env={"PATH": "/usr/bin:/bin", "PESTO_OUTPUT_COMPRESSION": "lzw",
             "PESTO_STATE_DIR": str(tmp_path)},
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "pesto-runtime: invalid setting: PESTO_OUTPUT_COMPRESSION=lzw: Input should be 'zstd' "
        "or 'none' (allowed: zstd, none)"]
