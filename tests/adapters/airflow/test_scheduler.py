"""The generated DAGs under a real Airflow 3 scheduler: `airflow standalone` (scheduler,
triggerer, dag-processor, api-server; LocalExecutor on SQLite), runs triggered from the CLI.

- squares, with a deferrable fan-out step whose job holds until the test lets it go: the mapped
  task is seen in state `deferred` (no worker slot) while the service reports its job RUNNING;
- cloud-mask, with deferrable detection: the merged mask equals the detector on the whole crop.

Kept small (SQLite locks under load; standalone takes ~2 GB): one run at a time, parallelism 4.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from pesto_factory.adapters.airflow.generate import emit
from pesto_factory.adapters.pipeline import load_pipeline

from tests.adapters import test_cloud_mask
from tests.adapters.airflow.harness import REPO, airflow_env
from tests.adapters.conftest import SERVICES, SQUARES
from tests.conftest import free_port, start_service, wait_until

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")]

crop = test_cloud_mask.crop  # the real crop as a GeoTIFF (module fixture, skips without it)
MASK_SERVICES = ("tiling", "cloud-detection", "merge")
SQUARE_SERVICES = ("split", "square", "sum")


def _generate(spec: dict, folder: Path, dags: Path, projects: dict[str, Path]) -> None:
    from pesto_factory.runtime.project import ServiceProject

    spec["services"] = {name: {"project": str(path)} for name, path in projects.items()}
    path = folder / f"{spec['name']}.yaml"
    path.write_text(yaml.safe_dump(spec))
    describes = {name: ServiceProject.load(path).describe() for name, path in projects.items()}
    emit(load_pipeline(path), describes, dags)


def _query(home: Path, sql: str, *args: object) -> list[tuple]:
    """Read the metadata DB (SQLite) while Airflow writes it: read-only, waiting on locks."""
    with sqlite3.connect(f"file:{home / 'airflow.db'}?mode=ro", uri=True, timeout=30) as db:
        return db.execute(sql, args).fetchall()


def _airflow(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "airflow", *args], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _run_state(home: Path, dag_id: str, run_id: str) -> str | None:
    rows = _query(home, "select state from dag_run where dag_id=? and run_id=?", dag_id, run_id)
    return rows[0][0] if rows else None


def _wait_for_run(home: Path, dag_id: str, run_id: str, log: Path) -> None:
    wait_until(lambda: _run_state(home, dag_id, run_id) in ("success", "failed"), timeout=300,
               interval=1, what=f"the run {run_id} of {dag_id}")
    states = _query(home, "select task_id, map_index, state from task_instance where dag_id=? "
                    "and run_id=?", dag_id, run_id)
    assert _run_state(home, dag_id, run_id) == "success", (states, log.read_text()[-4000:])


def _output(home: Path, dag_id: str, run_id: str) -> dict:
    [(value,)] = _query(home, "select value from xcom where dag_id=? and run_id=? and "
                        "task_id='outputs' and key='return_value'", dag_id, run_id)
    value = json.loads(value)
    return json.loads(value) if isinstance(value, str) else value


@pytest.fixture(scope="module")
def standalone(tmp_path_factory, crop):
    """Six services, both DAGs generated, and `airflow standalone` running over them."""
    root = tmp_path_factory.mktemp("standalone")
    dags = root / "dags"
    outputs = root / "outputs"
    outputs.mkdir()
    roots = os.pathsep.join([str(crop.parent), str(outputs)])
    projects = {name: REPO / "examples" / name for name in MASK_SERVICES}
    projects |= {name: SERVICES / name for name in SQUARE_SERVICES}
    started, process = {}, None
    try:
        for name, project in projects.items():
            started[name] = start_service(project, root / "state" / name, env={
                "PESTO_INPUT_ROOTS": roots, "PESTO_OUTPUT_ROOT": str(outputs / name)})
        mask = yaml.safe_load((REPO / "examples" / "pipelines" / "cloud_mask.yaml").read_text())
        mask["steps"][1]["airflow"] = {"deferrable": True, "poll_interval": 0.5}
        _generate(mask, root, dags, {name: projects[name] for name in MASK_SERVICES})
        squares = yaml.safe_load(SQUARES.read_text())
        squares["steps"][1]["airflow"] = {"deferrable": True, "poll_interval": 0.5,
                                          "max_poll_interval": 1}
        _generate(squares, root, dags, {name: projects[name] for name in SQUARE_SERVICES})
        home = root / "home"
        env = airflow_env(home, dags, {f"pesto_{name.replace('-', '_')}": service.url
                                       for name, service in started.items()})
        port = free_port()
        env.update({"AIRFLOW__API__PORT": str(port),
                    "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
                    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL":
                        f"http://127.0.0.1:{port}/execution/",
                    "AIRFLOW__CORE__PARALLELISM": "4",
                    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                    # standalone starts its components as `airflow ...` commands
                    "PATH": os.pathsep.join([str(Path(sys.executable).parent),
                                             env.get("PATH", "")])})
        log = root / "standalone.log"
        process = subprocess.Popen([sys.executable, "-m", "airflow", "standalone"], env=env,
                                   cwd=root, stdout=log.open("wb"), stderr=subprocess.STDOUT)

        def ready() -> bool:
            assert process.poll() is None, log.read_text()[-4000:]
            try:
                return httpx.get(f"http://127.0.0.1:{port}/api/v2/monitor/health",
                                 timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, timeout=240, interval=1, what="airflow standalone")
        _airflow(env, "dags", "reserialize")
        wait_until(lambda: {"cloud-mask", "squares"} <= {row[0] for row in _query(
            home, "select dag_id from dag where is_stale = 0")}, timeout=120, interval=1,
            what="both DAGs parsed")
        yield {"env": env, "home": home, "log": log, "services": started, "root": root}
    finally:
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        for service in started.values():
            service.stop()


def test_a_deferred_task_holds_no_slot_while_its_job_runs(standalone, tmp_path):
    env, home = standalone["env"], standalone["home"]
    hold = tmp_path / "hold"
    hold.touch()  # the square job runs until this file is gone
    _airflow(env, "dags", "trigger", "squares", "-r", "held", "-c",
             json.dumps({"count": 1, "hold": str(hold)}))
    wait_until(lambda: _query(home, "select state from task_instance where dag_id='squares' "
                              "and run_id='held' and task_id='squares'") == [("deferred",)],
               timeout=240, interval=0.5, what="the squares task deferred")
    with standalone["services"]["square"].client() as client:
        jobs = client.get("/jobs").json()
    assert [job["status"] for job in jobs] == ["RUNNING"]  # the job runs, the task waits
    hold.unlink()
    _wait_for_run(home, "squares", "held", standalone["log"])
    assert _output(home, "squares", "held")["total"] == 1


def test_the_cloud_mask_run_equals_the_detector_on_the_whole_crop(standalone, crop):
    from tests.adapters.airflow.test_dag_run import _check_mask

    env, home = standalone["env"], standalone["home"]
    _airflow(env, "dags", "trigger", "cloud-mask", "-r", "mask", "-c",
             json.dumps({"scene": crop.as_uri()}))
    _wait_for_run(home, "cloud-mask", "mask", standalone["log"])
    outputs = _output(home, "cloud-mask", "mask")
    _check_mask(outputs["mask"], crop)
    with standalone["services"]["cloud-detection"].client() as client:
        jobs = client.get("/jobs").json()
    assert [job["status"] for job in jobs] == ["SUCCEEDED"] * 4  # 4 tiles, each a deferred job
