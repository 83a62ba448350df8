"""Wheels for a service image: the PESTO runtime's own wheel, and a wheelhouse for offline builds.

The image installs the runtime from a wheel of this code base built with `pip wheel --no-deps`
(so the image gets the runtime's dependencies only, never the packager's dev extras). In
wheelhouse mode every other wheel the image needs is downloaded on the host (`pip download`)
into the build context and installed in the image with `pip --no-index`: nothing inside the
build reaches a package index, which is what an air-gapped ground segment needs. The host's
Python must then match the image's (both 3.11 with the default bases).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from pesto_factory import runtime
from pesto_factory.schemas.errors import PestoError

__all__ = ["BuildError", "source_tree", "build_runtime_wheel", "download_wheels",
           "constraints_file", "wheel_cache"]

log = logging.getLogger(__name__)

#: Paths of the source tree that go into the runtime wheel.
_SOURCES = ("pyproject.toml", "README.md", "runtime", "packager", "adapters", "schemas")
#: Fixed zip timestamps, so the same sources give the same wheel (and a cacheable layer).
_EPOCH = "315532800"


class BuildError(PestoError):
    """An image or one of its parts could not be built."""


def source_tree() -> Path | None:
    """The checkout this runtime comes from (an editable install), or None."""
    root = Path(runtime.__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() else None


def constraints_file() -> Path | None:
    """The pinned versions the runtime is tested with, when running from a checkout."""
    root = source_tree()
    path = root / "constraints.txt" if root else None
    return path if path and path.is_file() else None


def _run_pip(args: list[str], *, what: str, env: dict[str, str] | None = None) -> str:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    log.debug("running %s", " ".join(command))
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise BuildError(f"{what} failed (pip exit {done.returncode}):\n{tail}")
    return done.stdout


def build_runtime_wheel(dest: Path) -> Path:
    """The runtime's wheel in `dest`: PESTO_RUNTIME_WHEEL if set, else built from the checkout."""
    dest.mkdir(parents=True, exist_ok=True)
    given = os.environ.get("PESTO_RUNTIME_WHEEL")
    if given:
        path = Path(given)
        if not path.is_file():
            raise BuildError(f"PESTO_RUNTIME_WHEEL={given}: no such file")
        shutil.copy2(path, dest / path.name)
        return dest / path.name
    root = source_tree()
    if root is None:
        raise BuildError("cannot find the PESTO runtime's sources to build its wheel",
                         hint="set PESTO_RUNTIME_WHEEL to a pesto_factory-*.whl file")
    with tempfile.TemporaryDirectory(prefix="pesto-wheel-") as tmp:
        # A clean copy: no build/ or egg-info left in the checkout, no tests in the wheel.
        src = Path(tmp) / "src"
        src.mkdir()
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
        for name in _SOURCES:
            path = root / name
            if path.is_dir():
                shutil.copytree(path, src / name, ignore=ignore)
            elif path.is_file():
                shutil.copy2(path, src / name)
        if not (src / "README.md").exists():
            (src / "README.md").write_text("PESTO factory\n", encoding="utf-8")
        env = {**os.environ, "SOURCE_DATE_EPOCH": _EPOCH}
        _run_pip(["wheel", "--no-deps", "--wheel-dir", str(dest),
                  str(src)], what="building the runtime wheel", env=env)
    wheels = sorted(dest.glob("pesto_factory-*.whl"))
    if not wheels:
        raise BuildError(f"pip wheel made no pesto_factory wheel in {dest}")
    return wheels[-1]


def wheel_cache() -> Path:
    """Wheels downloaded once and reused by later wheelhouse builds (PESTO_WHEEL_CACHE)."""
    default = Path("~/.cache/pesto/wheels")
    return Path(os.environ.get("PESTO_WHEEL_CACHE", default)).expanduser()


def download_wheels(requirements: list[str], dest: Path, *, find_links: list[Path] = (),
                    constraints: Path | None = None) -> list[Path]:
    """Every wheel `requirements` need, for this Python and platform, into `dest`.

    Served from the wheel cache when it has them all; else fetched into the cache first.
    """
    dest.mkdir(parents=True, exist_ok=True)
    cache = wheel_cache()
    cache.mkdir(parents=True, exist_ok=True)
    args = ["download", "--only-binary=:all:", "--find-links", str(cache)]
    for link in find_links:
        args += ["--find-links", str(link)]
    if constraints:
        args += ["--constraint", str(constraints)]
    what = f"downloading wheels for {' '.join(requirements)}"
    try:
        _run_pip([*args, "--no-index", "--dest", str(dest), *requirements], what=what)
    except BuildError:
        log.info("wheel cache incomplete: downloading from the package index")
        _run_pip([*args, "--dest", str(cache), *requirements], what=what)
        _run_pip([*args, "--no-index", "--dest", str(dest), *requirements], what=what)
    return sorted(dest.glob("*.whl"))
