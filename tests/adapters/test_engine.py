"""The step engine with plain functions as services: order, fan-out, fan-in, failures."""

from __future__ import annotations

import threading

import pytest
from pesto_factory.adapters.client import ServerError
from pesto_factory.adapters.local import PipelineEngine, StepFailed
from pesto_factory.adapters.pipeline import load_pipeline

from tests.adapters.conftest import SQUARES


class Recorder:
    """Observer that keeps the events it hears."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def note(self, message):
        self.events.append(("note", message))

    def step_started(self, step, total):
        self.events.append(("started", step.id, total))

    def item_done(self, step):
        self.events.append(("item", step.id))

    def step_finished(self, step, record):
        self.events.append(("finished", step.id, record.status))


class ReverseServices:
    """split -> items; square: item i finishes only after item i+1 did (so the last item
    finishes first); sum -> the indexes in the order it got them."""

    def __init__(self, count: int, *, fail: int | None = None, items=None) -> None:
        self.count = count
        self.fail = fail
        self.items = items
        self.done = [threading.Event() for _ in range(count + 1)]
        self.done[count].set()
        self.finish_order: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, step, inputs):
        if step.service == "split":
            items = [{"index": i, "value": i + 1} for i in range(inputs["count"])]
            return {"items": items if self.items is None else self.items, "count": 0}
        if step.service == "square":
            index = inputs["item"]["index"]
            if index == self.fail:
                raise ServerError("POST .../process answered 500: boom", status_code=500,
                                  service_message=f"boom on {index}")
            assert self.done[index + 1].wait(timeout=30), f"item {index + 1} never finished"
            with self.lock:
                self.finish_order.append(index)
            self.done[index].set()
            return {"index": index, "square": inputs["item"]["value"] ** 2, "finished_at": 0}
        return {"total": sum(p["square"] for p in inputs["parts"]),
                "indexes": [p["index"] for p in inputs["parts"]], "image": None}


def test_fan_in_keeps_item_order_whatever_order_items_finish_in():
    pipeline = load_pipeline(SQUARES)
    services = ReverseServices(4)
    observer = Recorder()
    engine = PipelineEngine(pipeline, services, parallel=4, observer=observer)
    outputs = engine.run({"count": 4, "latch_dir": "", "fail_index": -1, "hold": ""})
    assert services.finish_order == [3, 2, 1, 0]
    assert outputs["indexes"] == [0, 1, 2, 3]
    assert outputs["total"] == 1 + 4 + 9 + 16
    assert [r.status for r in engine.records.values()] == ["SUCCEEDED"] * 3
    assert engine.records["squares"].calls == 4 and engine.records["squares"].items == 4
    assert engine.records["split"].items is None
    assert observer.events[:3] == [("started", "split", 1), ("item", "split"),
                                   ("finished", "split", "SUCCEEDED")]
    assert observer.events.count(("item", "squares")) == 4
    assert ("started", "squares", 4) in observer.events


def test_an_empty_fan_out_gives_an_empty_fan_in():
    engine = PipelineEngine(load_pipeline(SQUARES), ReverseServices(0), parallel=2)
    outputs = engine.run({"count": 0, "latch_dir": "", "fail_index": -1, "hold": ""})
    assert outputs["indexes"] == [] and outputs["total"] == 0
    assert engine.records["squares"].calls == 0


def test_a_failing_item_stops_the_run_and_names_step_item_and_message():
    services = ReverseServices(5, fail=2)
    services.done[3].set()  # item 2 fails at once; 3 and 4 are never started (parallel 1)
    engine = PipelineEngine(load_pipeline(SQUARES), _sequential(services), parallel=1)
    with pytest.raises(StepFailed) as caught:
        engine.run({"count": 5, "latch_dir": "", "fail_index": -1, "hold": ""})
    error = caught.value
    assert error.message == "step 'squares' (service 'square'), item 2 of 5 failed: boom on 2"
    assert (error.step_id, error.item, error.service_status) == ("squares", 2, 500)
    assert engine.records["squares"].status == "FAILED"
    assert engine.records["squares"].calls == 3  # items 3 and 4 were cancelled
    assert engine.records["squares"].error == "boom on 2"
    assert engine.records["total"].status == "NOT_RUN"


def test_a_failure_does_not_wait_for_the_items_still_running():
    services = ReverseServices(2, fail=1)  # item 0 waits for item 1, which fails
    engine = PipelineEngine(load_pipeline(SQUARES), services, parallel=2)
    try:
        with pytest.raises(StepFailed, match="item 1 of 2 failed: boom on 1"):
            engine.run({"count": 2, "latch_dir": "", "fail_index": -1, "hold": ""})
        assert services.finish_order == []  # item 0 is still waiting
    finally:
        services.done[1].set()


def test_outputs_missing_at_run_time_fail_the_step_that_reads_them(write_spec):
    spec = write_spec("""\
        name: late
        services: {split: {project: {services}/split}, sum: {project: {services}/sum}}
        steps:
          - {id: split, service: split, inputs: {count: 2}}
          - {id: total, service: sum, inputs: {parts: "${split.nope}"}}
        """)
    engine = PipelineEngine(load_pipeline(spec), ReverseServices(2), parallel=1)
    with pytest.raises(StepFailed, match=r"step 'total' \(service 'sum'\) failed: inputs: "
                       r"\$\{split.nope\}: no field 'nope' \(fields: items, count\)"):
        engine.run({})


def test_a_foreach_value_that_is_not_a_list_fails_the_step():
    engine = PipelineEngine(load_pipeline(SQUARES), ReverseServices(2, items=7), parallel=1)
    with pytest.raises(StepFailed, match=r"foreach: \$\{split.items\} is not a list but int 7"):
        engine.run({"count": 2, "latch_dir": "", "fail_index": -1, "hold": ""})


def _sequential(services: ReverseServices):
    """Items in index order (one at a time): item i need not wait for item i+1."""

    def call(step, inputs):
        if step.service == "square":
            services.done[inputs["item"]["index"] + 1].set()
        return services(step, inputs)

    return call
