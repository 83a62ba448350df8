"""ReplicaSet: calls spread over replicas of one service; a replica killed in the middle of a
fan-out loses nothing and no item is answered twice."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pesto_factory.adapters.client import ServiceError
from pesto_factory.adapters.client.replicas import ReplicaSet

from tests.conftest import free_port, wait_until

SQUARE = Path(__file__).resolve().parent / "services" / "square"


def item(index: int) -> dict:
    return {"item": {"index": index, "value": index + 1}}


def test_calls_are_spread_over_every_replica(service_factory, tmp_path: Path) -> None:
    replicas = [service_factory(SQUARE, state_dir=tmp_path / f"r{i}") for i in range(2)]
    pool = ReplicaSet([r.url for r in replicas])
    with ThreadPoolExecutor(4) as workers:
        results = list(workers.map(lambda i: pool.process(item(i)), range(24)))
    assert [r["square"] for r in results] == [(i + 1) ** 2 for i in range(24)]
    split = pool.split()
    assert sum(split.values()) == 24 and all(count > 0 for count in split.values()), split
    pool.close()


def test_a_replica_killed_mid_fan_out_loses_no_item_and_answers_none_twice(
        service_factory, tmp_path: Path) -> None:
    replicas = [service_factory(SQUARE, state_dir=tmp_path / f"r{i}") for i in range(2)]
    hold = tmp_path / "hold"
    hold.touch()  # items hang while this file exists: the kill lands with calls in flight
    latch = tmp_path / "latch"
    latch.mkdir()
    pool = ReplicaSet([r.url for r in replicas], cooldown=0.5)
    payloads = [{**item(i), "hold": str(hold)} for i in range(8)]
    with ThreadPoolExecutor(4) as workers:
        futures = [workers.submit(pool.process, p) for p in payloads]
        # every replica has a call running, then one replica dies
        wait_until(lambda: sum(pool._in_flight.values()) >= 2, timeout=30, what="calls in flight")
        replicas[0].stop(kill=True)
        hold.unlink()
        results = [f.result(timeout=120) for f in futures]
    assert [r["index"] for r in results] == list(range(8))
    assert [r["square"] for r in results] == [(i + 1) ** 2 for i in range(8)]
    assert pool.resent >= 1  # the killed replica's calls went to the other one
    split = pool.split()
    assert sum(split.values()) == 8, split  # each item answered once
    assert split[pool.clients[1].base_url] == 8 - pool.answered[pool.clients[0].base_url]
    pool.close()


def test_a_client_mistake_is_not_sent_to_another_replica(service_factory, tmp_path: Path) -> None:
    replicas = [service_factory(SQUARE, state_dir=tmp_path / f"r{i}") for i in range(2)]
    pool = ReplicaSet([r.url for r in replicas])
    with pytest.raises(ServiceError) as caught:
        pool.process({"item": {"index": "x"}})
    assert caught.value.status_code in (400, 422)
    assert pool.resent == 0
    pool.close()


def test_every_replica_down_gives_the_last_error_after_the_deadline() -> None:
    now = [0.0]
    pool = ReplicaSet([f"http://127.0.0.1:{free_port()}"], cooldown=1.0, give_up_after=3.0,
                      clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    with pytest.raises(ServiceError) as caught:
        pool.process(item(0))
    assert caught.value.status_code is None and pool.resent >= 2
    pool.close()


def test_the_runner_spreads_a_fan_out_over_replicas_and_reports_the_split(
        service_factory, tmp_path: Path) -> None:
    from pesto_factory.adapters.local import run_pipeline
    from pesto_factory.adapters.pipeline import load_pipeline

    from tests.adapters.conftest import SQUARES

    replicas = [service_factory(SQUARE, state_dir=tmp_path / f"r{i}") for i in range(2)]
    summary = run_pipeline(
        load_pipeline(SQUARES), {"count": 12}, output_dir=tmp_path / "run", parallel=4,
        service_urls={"square": ",".join(r.url for r in replicas)})
    assert summary.status == "SUCCEEDED"
    written = json.loads((tmp_path / "run" / "summary.json").read_text())
    split = written["services"]["square"]["replicas"]
    assert sum(split.values()) == 12 and all(v > 0 for v in split.values()), split
