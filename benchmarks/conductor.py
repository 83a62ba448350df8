"""The Conductor path against direct REST calls and the embedded runner, on the test services.

    .venv/bin/python benchmarks/conductor.py [--calls 200] [--items 1000]

One run, same machine, the same three test services (split, square, sum: no-op sized work)
started once on 127.0.0.1:
  per task:  a one-step workflow (square) started and awaited N times through the test
             Conductor server (tests/adapters/conductor/server.py, NOT a real Conductor: no
             database, no queues, one process) and the SDK's workers (poll interval 20 ms),
             against N direct `POST /process` calls of the same service: median and p99;
  fan-out:   the squares chain over ITEMS items through Conductor (batches of 100, manifest
             fan-in) against the embedded runner (`run_pipeline`, same services).
Ratios, not absolute times, are what carries to another machine; a real server adds its own
queue and persistence latencies (its decider runs asynchronously).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# this file's folder first on sys.path would shadow the SDK's `conductor` package with this file
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "benchmarks"]
sys.path.insert(0, str(REPO))  # the tests' helpers and the test Conductor server

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from pesto_factory.adapters.client import ServiceClient  # noqa: E402
from pesto_factory.adapters.conductor import (  # noqa: E402
    TaskSettings,
    generate_task_defs,
    generate_workflow,
    task_name,
)
from pesto_factory.adapters.conductor.worker import register_definitions  # noqa: E402
from pesto_factory.adapters.local.run import run_pipeline  # noqa: E402
from pesto_factory.adapters.pipeline import load_pipeline, parse_pipeline  # noqa: E402
from pesto_factory.runtime.project import ServiceProject  # noqa: E402

from tests.adapters.conductor.conftest import TestConductor, running_workers  # noqa: E402
from tests.adapters.conductor.server import ConductorState, create_app  # noqa: E402
from tests.adapters.conftest import SERVICES, SQUARES  # noqa: E402
from tests.conftest import free_port, start_service  # noqa: E402

ONE_STEP = """
name: one
services:
  square: {url: "http://127.0.0.1:1"}
steps:
  - id: sq
    service: square
    inputs: {item: {index: 0, value: 3, last: true}}
outputs:
  square: ${sq.square}
"""


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


_HTTP = httpx.Client()  # one client: building one costs an SSL context (tens of ms)


def _run(conductor: TestConductor, name: str, inputs: dict, timeout: float) -> dict:
    """Start a workflow (POST /workflow) and poll its status until it ends."""
    deadline = time.monotonic() + timeout
    with contextlib.nullcontext(_HTTP) as http:
        workflow_id = http.post(f"{conductor.url}/workflow",
                                json={"name": name, "input": inputs}).text
        while time.monotonic() < deadline:
            body = http.get(f"{conductor.url}/workflow/{workflow_id}/status").json()
            if body["status"] != "RUNNING":
                return body
            time.sleep(0.002)  # a client's status polling: part of what is measured
    raise TimeoutError(workflow_id)


def per_task(conductor: TestConductor, url: str, calls: int) -> None:
    describes = {"square": ServiceProject.load(SERVICES / "square").describe()}
    with ServiceClient(url) as client:
        direct = []
        for _ in range(calls):
            start = time.perf_counter()
            client.process({"item": {"index": 0, "value": 3, "last": True}})
            direct.append(time.perf_counter() - start)
    pipeline = parse_pipeline(ONE_STEP, describes=describes)
    register_definitions(conductor.configuration(), generate_task_defs(describes),
                         generate_workflow(pipeline, describes))
    through = []
    with running_workers(conductor, {task_name(describes["square"]): url}):
        for _ in range(5):  # warm-up: the SDK's worker processes start
            _run(conductor, "one", {}, 60)
        conductor.state.workflows.clear()
        for _ in range(calls):
            start = time.perf_counter()
            done = _run(conductor, "one", {}, 30)
            through.append(time.perf_counter() - start)
            assert done["status"] == "COMPLETED", done
    runs = [w for w in conductor.state.workflows.values() if w["workflowName"] == "one"]
    waits = [w["tasks"][0]["startTime"] - w["tasks"][0]["scheduledTime"] for w in runs]
    works = [w["tasks"][0]["endTime"] - w["tasks"][0]["startTime"] for w in runs]
    spans = [w["endTime"] - w["createTime"] for w in runs]
    print(f"  server side: queue wait (scheduled -> polled) median "
          f"{statistics.median(waits):.0f} ms, worker (polled -> updated) median "
          f"{statistics.median(works):.0f} ms, workflow (created -> ended) median "
          f"{statistics.median(spans):.0f} ms")
    (dm, dp), (cm, cp) = _percentiles(direct), _percentiles(through)
    print(f"per task, {calls} calls: direct POST /process median {dm * 1000:.1f} ms, "
          f"p99 {dp * 1000:.1f} ms; through Conductor median {cm * 1000:.1f} ms, "
          f"p99 {cp * 1000:.1f} ms; overhead median {(cm - dm) * 1000:.1f} ms "
          f"(x{cm / dm:.1f})")


def fan_out(conductor: TestConductor, urls: dict[str, str], items: int, tmp: Path) -> None:
    describes = {name: ServiceProject.load(SERVICES / name).describe()
                 for name in ("split", "square", "sum")}
    pipeline = load_pipeline(SQUARES, describes=describes)
    start = time.perf_counter()
    summary = run_pipeline(pipeline, {"count": items}, output_dir=tmp / "run",
                           service_urls=urls)
    embedded = time.perf_counter() - start
    assert summary.status == "SUCCEEDED"
    settings = TaskSettings(retry_count=0)
    register_definitions(conductor.configuration(), generate_task_defs(describes,
                                                                       settings=settings),
                         generate_workflow(pipeline, describes, settings=settings))
    tasks = {task_name(describes[name]): url for name, url in urls.items()}
    with running_workers(conductor, tasks, thread_count=4,
                         manifests=(tmp / "manifests").as_uri()):
        _run(conductor, "squares", {"count": 1}, 120)  # warm-up: the workers start
        start = time.perf_counter()
        done = _run(conductor, "squares", {"count": items}, 600)
        through = time.perf_counter() - start
    assert done["status"] == "COMPLETED", done
    assert done["output"]["indexes"] == list(range(items))
    print(f"fan-out of {items} items (squares chain): embedded runner {embedded:.2f} s, "
          f"Conductor (batches of 100, manifests) {through:.2f} s "
          f"(x{through / embedded:.2f}); largest Conductor payload "
          f"{conductor.state.payloads.largest / 1024:.0f} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--items", type=int, default=1000)
    args = parser.parse_args()
    port = free_port()
    state = ConductorState()
    app = create_app(state)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    conductor = TestConductor(f"http://127.0.0.1:{port}/api", state)
    started = {}
    with tempfile.TemporaryDirectory(prefix="pesto-conductor-bench-") as tmp:
        try:
            for name in ("split", "square", "sum"):
                started[name] = start_service(SERVICES / name, Path(tmp) / name,
                                              env={"PESTO_WORKERS": "3"})
            urls = {name: service.url for name, service in started.items()}
            per_task(conductor, urls["square"], args.calls)
            fan_out(conductor, urls, args.items, Path(tmp))
        finally:
            for service in started.values():
                service.stop()
            app.state.stop_sweeper.set()
            server.should_exit = True


if __name__ == "__main__":
    main()
