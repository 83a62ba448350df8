"""The light installs, proven: the project's wheel installed into fresh venvs, one per extra.

The wheel is built once from a clean copy of the checkout; each venv gets it with one extra
(none, runtime, packager, airflow, conductor), pinned by constraints.txt, through `uv` (a venv
and an install from its cache take about a second; pip takes tens). Each venv's Python then
imports what that install is for and reports which heavy distributions it has. A venv sees
nothing of this checkout: the imports come from its own site-packages.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port, wait_until

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
EXTRAS = ("base", "runtime", "packager", "airflow", "conductor")
LOWEST_AIRFLOW = "airflow-lowest"
#: Distributions whose presence each test checks (import names).
HEAVY = ("fastapi", "uvicorn", "rasterio", "numpy", "typer", "docker", "airflow", "conductor")

#: Run by a venv's Python: import the modules given as arguments, report what it has.
_PROBE = """
import importlib, importlib.util, json, sys
heavy, modules = sys.argv[1].split(","), sys.argv[2:]
errors = {}
for name in modules:
    try:
        importlib.import_module(name)
    except Exception as exc:
        errors[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps({
    "errors": errors,
    "installed": sorted(name for name in heavy if importlib.util.find_spec(name)),
    "loaded": sorted({name.split(".")[0] for name in sys.modules} & set(heavy)),
    "runtime_loaded": any(name.startswith("pesto_factory.runtime") for name in sys.modules),
}))
"""


def _run(command: list[str], *, env: dict[str, str] | None = None,
         cwd: Path | None = None) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False,
                          env=env, cwd=cwd)
    assert done.returncode == 0, f"{' '.join(command[:4])} ...: {done.stdout}\n{done.stderr}"
    return done.stdout


class Venvs:
    """Fresh venvs with the wheel and one extra, each made once per module, on demand."""

    def __init__(self, root: Path, wheel: Path) -> None:
        from uv import find_uv_bin

        self.root, self.wheel, self.uv = root, wheel, find_uv_bin()
        self._made: dict[str, Path] = {}
        self._lock = threading.Lock()

    def __call__(self, extra: str) -> Path:
        with self._lock:
            if extra not in self._made:
                self._made[extra] = self._make(extra)
            return self._made[extra]

    def _make(self, extra: str) -> Path:
        venv = self.root / extra
        _run([self.uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
        pins = ["--constraint", str(REPO / "constraints.txt")]
        if extra == "base":
            requirements = [str(self.wheel)]
        elif extra == LOWEST_AIRFLOW:  # the oldest minor pyproject.toml admits, not the pinned
            requirements = [f"pesto-factory[airflow] @ {self.wheel.as_uri()}",
                            f"apache-airflow=={airflow_lower_bound()}.*"]
            pins = []
        else:
            requirements = [f"pesto-factory[{extra}] @ {self.wheel.as_uri()}"]
        _run([self.uv, "pip", "install", "--quiet", "--python", str(python(venv)), *pins,
              *requirements])
        return venv


def airflow_lower_bound() -> str:
    """The X.Y of the `[airflow]` extra's `apache-airflow>=X.Y` in pyproject.toml."""
    with (REPO / "pyproject.toml").open("rb") as file:
        extra = tomllib.load(file)["project"]["optional-dependencies"]["airflow"]
    found = re.search(r"apache-airflow>=(\d+\.\d+)", " ".join(extra))
    assert found, f"pyproject.toml: no apache-airflow>=X.Y in the airflow extra: {extra}"
    return found.group(1)


def python(venv: Path) -> Path:
    return venv / "bin" / "python"


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def probe(venv: Path, *modules: str, path: Path | None = None) -> dict[str, Any]:
    """Import `modules` in the venv's Python (from a neutral folder, `path` on sys.path)."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["AIRFLOW_HOME"] = str(venv / "airflow-home")
    if path is not None:
        env["PYTHONPATH"] = str(path)
    out = _run([str(python(venv)), "-c", _PROBE, ",".join(HEAVY), *modules], env=env,
               cwd=venv)
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    from pesto_factory.packager.wheels import build_project_wheel

    wheel = build_project_wheel(tmp_path_factory.mktemp("wheel"))
    return Venvs(tmp_path_factory.mktemp("venvs"), wheel)


@pytest.mark.parametrize("extra", EXTRAS)
def test_only_the_namespace_package_lands_in_site_packages(venv, extra: str) -> None:
    site = site_packages(venv(extra))
    dist_info = next(site.glob("pesto_factory-*.dist-info"))
    assert (dist_info / "top_level.txt").read_text().split() == ["pesto_factory"]
    record = (dist_info / "RECORD").read_text().splitlines()
    tops = {line.split(",")[0].split("/")[0] for line in record}
    assert tops <= {"pesto_factory", dist_info.name, ".."}, tops  # "..": the console scripts
    for old in ("runtime", "packager", "adapters", "schemas"):
        assert not (site / old).exists(), f"{site / old}: an old top-level name"


def test_base_has_the_client_spec_and_generators_without_the_runtime_stack(venv) -> None:
    report = probe(venv("base"), "pesto_factory.adapters.client", "pesto_factory.adapters.pipeline",
                   "pesto_factory.adapters.conductor.generate",
                   "pesto_factory.adapters.airflow.generate", "pesto_factory.schemas.errors")
    assert report["errors"] == {}
    assert report["installed"] == []
    assert not report["runtime_loaded"]


_GENERATE = """
import json, sys
from pathlib import Path
from pesto_factory.adapters.airflow.generate import emit
from pesto_factory.adapters.conductor import generate_task_defs, generate_workflow
from pesto_factory.adapters.pipeline import check_types, load_pipeline
repo, out = Path(sys.argv[1]), Path(sys.argv[2])
pipeline = load_pipeline(repo / "examples" / "pipelines" / "cloud_mask.yaml")
describes = {name: json.loads((ref.project / "pesto" / "tests" / "expected_describe.json")
                              .read_text()) for name, ref in pipeline.services.items()}
check_types(pipeline, describes)
emit(pipeline, describes, out)
print(json.dumps({"taskdefs": generate_task_defs(describes),
                  "workflow": generate_workflow(pipeline, describes)}))
"""


def test_base_generates_the_committed_workflows_and_dags(venv, tmp_path: Path) -> None:
    """The generators run in the base install (describe documents given as files) and give
    the committed files."""
    out = _run([str(python(venv("base"))), "-c", _GENERATE, str(REPO), str(tmp_path)],
               cwd=tmp_path)
    generated = json.loads(out.strip().splitlines()[-1])
    workflows = REPO / "workflows"
    assert generated["taskdefs"] == json.loads((workflows / "taskdefs.json").read_text())
    assert generated["workflow"] == json.loads(
        (workflows / "cloud-mask.workflow.json").read_text())
    for name in ("cloud_mask.py", "cloud_mask_operators.py"):
        assert (tmp_path / name).read_text() == (REPO / "dags" / name).read_text(), name


def test_runtime_serves_without_the_packager_or_the_orchestrators(venv, tmp_path: Path) -> None:
    runtime = venv("runtime")
    report = probe(runtime, "pesto_factory.runtime.api.app", "pesto_factory.runtime.cli")
    assert report["errors"] == {}
    assert report["installed"] == ["fastapi", "numpy", "rasterio", "uvicorn"]
    # The installed `pesto-runtime` serves the ndvi example: its describe document is the one
    # the checkout builds.
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["PESTO_STATE_DIR"] = str(tmp_path / "state")
    log = tmp_path / "serve.log"
    ndvi = REPO / "examples" / "ndvi"
    with log.open("wb") as out:
        server = subprocess.Popen([str(runtime / "bin" / "pesto-runtime"), "serve", str(ndvi),
                                   "--port", str(port)], env=env, cwd=tmp_path, stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        def healthy() -> bool:
            assert server.poll() is None, log.read_text(errors="replace")
            try:
                return httpx.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(healthy, timeout=60, what="the installed pesto-runtime's health")
        describe = httpx.get(f"http://127.0.0.1:{port}/api/v1/describe").json()
        describe.pop("_links", None)
        expected = json.loads((ndvi / "pesto" / "tests" / "expected_describe.json").read_text())
        assert describe == expected
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_packager_has_its_cli_and_the_runtime_but_no_orchestrator(venv) -> None:
    packager = venv("packager")
    report = probe(packager, "pesto_factory.packager.cli", "pesto_factory.runtime.api.app")
    assert report["errors"] == {}
    assert report["installed"] == ["docker", "fastapi", "numpy", "rasterio", "typer", "uvicorn"]
    assert "build" in _run([str(packager / "bin" / "packager"), "--help"],
                           env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"})


@pytest.mark.parametrize("extra", ["airflow", LOWEST_AIRFLOW])
def test_airflow_imports_the_provider_and_generated_operators_without_the_runtime(
        venv, extra: str) -> None:
    """The hook, operators, trigger and the committed DAG and operator module import in an
    Airflow worker's environment with no rasterio or numpy installed and nothing of the
    runtime loaded, on the pinned Airflow and on the oldest minor the extra admits.
    (FastAPI, uvicorn and typer are there: apache-airflow-core requires them for its API server
    and CLI; the provider never imports them.)"""
    airflow = venv(extra)
    report = probe(airflow, "pesto_factory.adapters.airflow.hooks.pesto",
                   "pesto_factory.adapters.airflow.operators.pesto",
                   "pesto_factory.adapters.airflow.triggers.pesto",
                   "pesto_factory.adapters.airflow.tasks", "cloud_mask_operators", "cloud_mask",
                   path=REPO / "dags")
    assert report["errors"] == {}
    assert "rasterio" not in report["installed"] and "numpy" not in report["installed"]
    assert {"docker", "conductor"}.isdisjoint(report["installed"])
    assert {"fastapi", "uvicorn"}.isdisjoint(report["loaded"])
    assert not report["runtime_loaded"]


def test_conductor_imports_the_worker_without_the_runtime_stack(venv) -> None:
    report = probe(venv("conductor"), "pesto_factory.adapters.conductor.worker")
    assert report["errors"] == {}
    assert report["installed"] == ["conductor"]
    assert not report["runtime_loaded"]
