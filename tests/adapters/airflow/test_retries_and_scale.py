"""The squares chain (split -> square per item -> sum) generated as a DAG and run on real
Airflow 3 (`dag.test()`, SQLite) against the test services on 127.0.0.1:

- the square service killed mid-job and restarted on the same port: the job is then FAILED
  "interrupted" (deferred) or the connection drops (synchronous); with retries set, the task's
  next try succeeds and so does the run;
- a 10,000-item fan-out, batched into a bounded number of mapped tasks, to the end.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from pesto_factory.adapters.airflow.generate import emit
from pesto_factory.adapters.pipeline import load_pipeline

from tests.adapters.airflow.harness import airflow_env, finish, run_dag, start_dag_test
from tests.adapters.conftest import SERVICES, SQUARES
from tests.conftest import start_service, wait_until

pytestmark = pytest.mark.slow

NAMES = ("split", "square", "sum")


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    """The three test services (two square workers), by name."""
    root = tmp_path_factory.mktemp("squares")
    started = {}
    try:
        for name in NAMES:
            started[name] = start_service(SERVICES / name, root / name,
                                          env={"PESTO_WORKERS": "2"})
        yield started
    finally:
        for service in started.values():
            service.stop()


def _dag(folder: Path, services: dict, airflow: dict, squares: dict) -> tuple[Path, dict]:
    """The squares DAG generated into `folder` with `airflow` options (the pipeline's) and
    `squares` (the fan-out step's); and the environment of an Airflow home beside it."""
    spec = yaml.safe_load(SQUARES.read_text())
    spec["services"] = {name: {"project": str(SERVICES / name)} for name in NAMES}
    spec["airflow"] = airflow
    spec["steps"][1]["airflow"] = squares
    folder.mkdir(parents=True)
    path = folder / "squares.yaml"
    path.write_text(yaml.safe_dump(spec))
    pipeline = load_pipeline(path)
    from pesto_factory.runtime.project import ServiceProject

    describes = {name: ServiceProject.load(SERVICES / name).describe() for name in NAMES}
    files = emit(pipeline, describes, folder / "dags")
    env = airflow_env(folder / "home", files.dag.parent,
                      {f"pesto_{name}": services[name].url for name in NAMES})
    return files.dag, env


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "sync"])
def test_a_service_killed_mid_job_is_retried_and_the_run_succeeds(services, tmp_path,
                                                                 deferrable):
    latch, hold = tmp_path / "latch", tmp_path / "hold"
    latch.mkdir()
    hold.touch()  # the square job runs until this file is gone
    dag_file, env = _dag(tmp_path / "af", services, {"retries": 3, "retry_delay": 1},
                         {"deferrable": deferrable, "poll_interval": 0.2,
                          "max_poll_interval": 1})
    run = start_dag_test(env, dag_file, {"count": 1, "latch_dir": str(latch),
                                         "hold": str(hold)}, "outputs", tmp_path)
    square = services["square"]
    try:
        wait_until(lambda: (latch / "started-0").exists() or run.poll() is not None,
                   timeout=120, what="the square job to start")
        assert run.poll() is None, (tmp_path / "dag-test.log").read_text()[-4000:]
        square.stop(kill=True)  # mid-job, as a crash or an evicted pod
        hold.unlink()
        port = int(square.url.rsplit(":", 1)[1])
        services["square"] = start_service(SERVICES / "square", Path(square.env[
            "PESTO_STATE_DIR"]), env={"PESTO_WORKERS": "2"}, port=port)
    finally:
        result = finish(run, tmp_path)
    assert result["state"] == "success", result["log"][-6000:]
    assert result["value"]["total"] == 1
    assert result["tries"]["squares"] == 2  # the first try failed (retryable), the second won
    if deferrable:
        assert "FAILED: interrupted" in result["log"]
    assert "AirflowFailException" not in result["log"]


def test_a_fan_out_of_10000_items_runs_in_a_bounded_number_of_tasks(services, tmp_path):
    dag_file, env = _dag(tmp_path / "af", services, {"max_map_length": 20},
                         {"max_parallel": 8})
    result = run_dag(env, dag_file, {"count": 10_000}, "outputs", tmp_path, timeout=600)
    assert result["state"] == "success", result["log"][-6000:]
    assert result["value"]["total"] == sum(n * n for n in range(1, 10_001))
    assert result["value"]["indexes"] == list(range(10_000))  # item order kept
    assert result["log"].count("call(s) done in") == 1 + 20 + 1  # split, 20 batches of 500, sum
    assert "XCom not found" not in result["log"]
    shutil.rmtree(tmp_path / "af" / "home", ignore_errors=True)


def test_a_full_queue_is_waited_for_after_its_retry_after(tmp_path, monkeypatch, capsys):
    from pesto_factory.adapters.airflow.operators.pesto import PestoProcessOperator

    service = start_service(SERVICES / "square", tmp_path / "state",
                            env={"PESTO_WORKERS": "1", "PESTO_QUEUE": "0"})  # 1 call at a time
    try:
        monkeypatch.setenv("AIRFLOW_CONN_PESTO_BUSY", f'{{"conn_type": "pesto", '
                                                      f'"host": "{service.url}"}}')
        op = PestoProcessOperator(task_id="t", pesto_conn_id="pesto_busy", max_parallel=3,
                                  batch=[{"item": {"index": n, "value": n}} for n in range(6)])
        outputs = op.execute({})
    finally:
        service.stop()
    assert [out["square"] for out in outputs] == [n * n for n in range(6)]
    log = capsys.readouterr().out
    assert "is busy (503); asking again in 1.0 s" in log  # the service's Retry-After: 1


def test_on_kill_cancels_the_running_job_on_a_real_service(services, tmp_path, monkeypatch):
    """The calls Airflow makes on a kill (the triggerer's on_kill after cancelling run(), the
    operator's on_kill), against the real square service with a job held running."""
    import asyncio

    from airflow.sdk.exceptions import TaskDeferred
    from pesto_factory.adapters.airflow.operators.pesto import PestoProcessOperator
    from pesto_factory.adapters.airflow.triggers.pesto import PestoJobTrigger

    square = services["square"]
    monkeypatch.setenv("AIRFLOW_CONN_PESTO_SQUARE", f'{{"conn_type": "pesto", '
                                                    f'"host": "{square.url}"}}')
    hold, latch = tmp_path / "hold", tmp_path / "latch"
    latch.mkdir()
    hold.touch()
    op = PestoProcessOperator(task_id="t", pesto_conn_id="pesto_square", deferrable=True,
                              batch=[{"item": {"index": n, "value": n, "last": True},
                                      "hold": str(hold), "latch_dir": str(latch)}
                                     for n in range(2)])
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({})
    first, second = deferred.value.trigger.job_ids
    trigger = PestoJobTrigger(**deferred.value.trigger.serialize()[1])

    async def kill_while_waiting() -> None:
        waiting = asyncio.ensure_future(trigger.run().__anext__())
        await asyncio.to_thread(wait_until, lambda: (latch / "started-0").exists(),
                                timeout=60, what="the first job running")
        waiting.cancel()  # what the triggerer does to a trigger a user acted on...
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await trigger.on_kill()  # ...then this

    asyncio.run(kill_while_waiting())
    with square.client() as client:
        assert client.get(f"/jobs/{first}/status").json()["status"] == "CANCELLED"
        assert client.get(f"/jobs/{second}/status").json()["status"] == "CANCELLED"
    op.on_kill()  # the operator's own: the jobs it submitted (already cancelled: no error)
    hold.unlink()
