"""Real Airflow 3 for the tests, in subprocesses with their own AIRFLOW_HOME (SQLite), so its
configuration and environment never leak into other tests.

- `airflow_env(home, dags, connections)`: the environment of a migrated Airflow home.
- `start_dag_test(...)` / `finish(...)`: `dag.test()` of one DAG file in a subprocess, which
  prints the run's state, one task's XCom return value and every task's tries as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

#: Runs one DAG file with dag.test(); prints the run's state, the XCom return value of one
#: task and each task's highest try number.
RUNNER = """
import json, runpy, sys
from airflow.models.taskinstance import TaskInstance
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
dag_file, conf, task_id = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
dag = runpy.run_path(dag_file)["dag"]
run = dag.test(run_conf=conf)
with create_session() as session:
    rows = session.scalars(XComModel.get_many(run_id=run.run_id, dag_ids=dag.dag_id,
                                              task_ids=task_id, key="return_value")).all()
    value = XComModel.deserialize_value(rows[0]) if rows else None
    tries = {}
    for ti in session.query(TaskInstance).filter_by(dag_id=dag.dag_id, run_id=run.run_id):
        tries[ti.task_id] = max(tries.get(ti.task_id, 0), ti.try_number)
print("RESULT " + json.dumps({"state": str(run.state), "value": value, "tries": tries}))
"""


def airflow_env(home: Path, dags: Path, connections: Mapping[str, str]) -> dict[str, str]:
    """The environment of an Airflow home at `home` (migrated here) reading DAGs from `dags`,
    with one `pesto` connection per (conn id -> service URL)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update({"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "PYTHONPATH": os.pathsep.join([str(REPO), str(dags)])})
    for conn_id, url in connections.items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps({"conn_type": "pesto", "host": url})
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True,
                   capture_output=True, timeout=300)
    return env


def start_dag_test(env: Mapping[str, str], dag_file: Path, conf: Mapping, task_id: str,
                   cwd: Path) -> subprocess.Popen:
    """`dag.test()` of `dag_file` started in a subprocess (its output in cwd/dag-test.log)."""
    env = {**env, "AIRFLOW__CORE__DAGS_FOLDER": str(dag_file.parent)}  # dag.test() reads it
    log = (cwd / "dag-test.log").open("wb")
    return subprocess.Popen([sys.executable, "-c", RUNNER, str(dag_file), json.dumps(conf),
                             task_id], env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)


def finish(process: subprocess.Popen, cwd: Path, *, timeout: float = 240) -> dict:
    """Wait for a `start_dag_test` run; its RESULT, plus its whole output as `log`."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log = (cwd / "dag-test.log").read_text(errors="replace")
    lines = [line for line in log.splitlines() if line.startswith("RESULT ")]
    assert process.returncode == 0 and lines, log[-6000:]
    return {**json.loads(lines[-1].removeprefix("RESULT ")), "log": log}


def run_dag(env: Mapping[str, str], dag_file: Path, conf: Mapping, task_id: str, cwd: Path,
            *, timeout: float = 240) -> dict:
    """`dag.test()` of `dag_file` to its end: {state, value, tries, log}."""
    return finish(start_dag_test(env, dag_file, conf, task_id, cwd), cwd, timeout=timeout)
