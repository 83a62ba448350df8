"""This service's own test cases (pesto/tests), run in a local runtime: `pytest tests/`.

The same check as `packager test --local`; add `--image` to the command to test the built
image instead (needs a container engine at DOCKER_HOST).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def test_service_cases() -> None:
    done = subprocess.run([sys.executable, "-m", "pesto_factory.packager", "test", str(PROJECT), "--local"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
