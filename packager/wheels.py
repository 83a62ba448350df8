"""Wheels for a service image: the PESTO runtime's own wheel, and a wheelhouse for offline builds.

The image installs the runtime from a runtime-only wheel of this code base, built with
`pip wheel --no-deps` from a copy of the sources whose pyproject.toml is trimmed to
`pesto_factory.runtime` and `pesto_factory.schemas`, with the base and `[runtime]` dependencies
as its own: nothing of the packager or the adapters (typer, docker, Airflow) goes into an
image. `build_project_wheel(dest, runtime_only=False)` builds the whole distribution. In
wheelhouse mode every other wheel the image needs is downloaded on the host (`pip download`)
into the build context and installed in the image with `pip --no-index`: nothing inside the
build reaches a package index, which is what an air-gapped ground segment needs. The host's
Python must then match the image's (both 3.11 with the default bases).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from pesto_factory import runtime
from pesto_factory.schemas.errors import PestoError

__all__ = ["BuildError", "source_tree", "build_runtime_wheel", "build_project_wheel",
           "runtime_pyproject", "download_wheels", "constraints_file", "wheel_cache"]

log = logging.getLogger(__name__)

#: Paths of the source tree that go into the whole wheel, and into the runtime-only one.
_SOURCES = ("pyproject.toml", "README.md", "runtime", "packager", "adapters", "schemas")
_RUNTIME_SOURCES = ("README.md", "runtime", "schemas")
#: The packages of the runtime-only wheel (and their subpackages).
_RUNTIME_PACKAGES = ("pesto_factory.runtime", "pesto_factory.schemas")
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


def _in_runtime(name: str) -> bool:
    return any(name == top or name.startswith(top + ".") for top in _RUNTIME_PACKAGES)


def _toml(value: Any) -> str:
    """TOML for the strings, lists and tables of a pyproject (JSON's string escapes are TOML's)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return json.dumps(value)


def runtime_pyproject(pyproject: dict[str, Any]) -> str:
    """The pyproject.toml of the runtime-only wheel, from the project's own (parsed).

    Same name and version; the packages are the runtime's and the schemas'; the dependencies
    are the base ones plus the `[runtime]` extra; no extras, no packager or worker scripts, no
    Airflow provider entry point.
    """
    project = pyproject["project"]
    setuptools = pyproject["tool"]["setuptools"]
    dependencies = [*project.get("dependencies", []),
                    *project.get("optional-dependencies", {}).get("runtime", [])]
    scripts = {name: target for name, target in project.get("scripts", {}).items()
               if _in_runtime(target.partition(":")[0])}
    tables: dict[str, dict[str, Any]] = {
        "build-system": pyproject["build-system"],
        "project": {
            "name": project["name"], "version": project["version"],
            "description": "The PESTO runtime (service images only): "
                           + project.get("description", ""),
            "readme": "README.md", "requires-python": project["requires-python"],
            "license": project["license"], "dependencies": dependencies,
        },
        "project.scripts": scripts,
        "tool.setuptools": {
            "package-dir": {k: v for k, v in setuptools["package-dir"].items() if _in_runtime(k)},
            "packages": [name for name in setuptools["packages"] if _in_runtime(name)],
        },
        "tool.setuptools.package-data": {
            k: v for k, v in setuptools.get("package-data", {}).items() if _in_runtime(k)},
    }
    lines = ["# Generated by pesto_factory.packager.wheels: the runtime-only wheel of a service image."]
    for table, values in tables.items():
        lines += ["", f"[{table}]"]
        lines += [f"{json.dumps(key)} = {_toml(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def build_runtime_wheel(dest: Path) -> Path:
    """The runtime-only wheel in `dest`: PESTO_RUNTIME_WHEEL if set, else built from the checkout."""
    given = os.environ.get("PESTO_RUNTIME_WHEEL")
    if given:
        dest.mkdir(parents=True, exist_ok=True)
        path = Path(given)
        if not path.is_file():
            raise BuildError(f"PESTO_RUNTIME_WHEEL={given}: no such file")
        shutil.copy2(path, dest / path.name)
        return dest / path.name
    return build_project_wheel(dest, runtime_only=True)


def build_project_wheel(dest: Path, *, runtime_only: bool = False) -> Path:
    """A wheel of the checkout in `dest`: the whole distribution, or the runtime-only one."""
    dest.mkdir(parents=True, exist_ok=True)
    root = source_tree()
    if root is None:
        raise BuildError("cannot find the PESTO runtime's sources to build its wheel",
                         hint="set PESTO_RUNTIME_WHEEL to a pesto_factory-*.whl file")
    with tempfile.TemporaryDirectory(prefix="pesto-wheel-") as tmp:
        # A clean copy: no build/ or egg-info left in the checkout, no tests in the wheel.
        src = Path(tmp) / "src"
        src.mkdir()
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
        for name in _RUNTIME_SOURCES if runtime_only else _SOURCES:
            path = root / name
            if path.is_dir():
                shutil.copytree(path, src / name, ignore=ignore)
            elif path.is_file():
                shutil.copy2(path, src / name)
        if runtime_only:
            with (root / "pyproject.toml").open("rb") as file:
                pyproject = tomllib.load(file)
            (src / "pyproject.toml").write_text(runtime_pyproject(pyproject), encoding="utf-8")
        if not (src / "README.md").exists():
            (src / "README.md").write_text("PESTO factory\n", encoding="utf-8")
        env = {**os.environ, "SOURCE_DATE_EPOCH": _EPOCH}
        what = "building the runtime wheel" if runtime_only else "building the project's wheel"
        _run_pip(["wheel", "--no-deps", "--wheel-dir", str(dest), str(src)], what=what, env=env)
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
    # A local wheel among the requirements (the runtime's own) must never be served from the
    # cache: pip keeps a file already there, so an older build of the same name and version
    # would shadow this one's dependencies.
    local = [cache / Path(item).name for item in requirements if item.endswith(".whl")]
    for stale in local:
        stale.unlink(missing_ok=True)
    try:
        _run_pip([*args, "--no-index", "--dest", str(dest), *requirements], what=what)
    except BuildError:
        log.info("wheel cache incomplete: downloading from the package index")
        try:
            _run_pip([*args, "--dest", str(cache), *requirements], what=what)
        finally:
            for stale in local:
                stale.unlink(missing_ok=True)
        _run_pip([*args, "--no-index", "--dest", str(dest), *requirements], what=what)
    return sorted(dest.glob("*.whl"))
