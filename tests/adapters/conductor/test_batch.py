"""What a worker does with a batch and a manifest fan-in (`batch`, `manifests`), on real files:
items filled into the template, calls in parallel, the first failing item named, outputs in
the manifest store and read back in order along a path."""

from __future__ import annotations

import pytest
from pesto_factory.adapters.conductor.batch import BatchError, expand_fan_ins, run_batch
from pesto_factory.adapters.conductor.manifests import open_store, register_scheme


def test_a_batch_calls_once_per_item_in_parallel_and_writes_its_manifest(tmp_path):
    store = open_store(tmp_path.as_uri())
    seen: list[dict] = []

    def call(inputs: dict) -> dict:
        seen.append(inputs)
        return {"y": inputs["x"]["v"] * 10}

    batch = {"items": [{"v": 1}, {"v": 2}, {"v": 3}], "offset": 30, "parallel": 2,
             "template": {"x": {"__pesto_item": []}, "k": 7, "deep": [{"__pesto_item": ["v"]}]}}
    output = run_batch(batch, call, store=store, key="wf/s__3")
    assert output == {"offset": 30, "count": 3,
                      "manifest": (tmp_path / "wf" / "s__3.json").resolve().as_uri()}
    assert sorted(item["deep"][0] for item in seen) == [1, 2, 3] and seen[0]["k"] == 7
    inline = run_batch({**batch, "fanIn": "inline"}, call, store=store, key="x")
    assert inline["results"] == [{"y": 10}, {"y": 20}, {"y": 30}]
    # the reading step's worker: batches in order, read along the path
    other = run_batch({**batch, "offset": 33, "items": [{"v": 4}]}, call, store=store,
                      key="wf/s__4")
    fan_in = {"__pesto_manifests": [output["manifest"], other["manifest"]], "path": ["y"]}
    assert expand_fan_ins({"parts": fan_in, "n": 1}) == {"parts": [10, 20, 30, 40], "n": 1}
    assert expand_fan_ins({**fan_in, "path": ["3", "y"]}) == 40


def test_the_first_failing_item_fails_the_batch_with_its_index(tmp_path):
    def call(inputs: dict) -> dict:
        if inputs["i"] >= 1:
            raise ValueError(f"bad {inputs['i']}")
        return {}

    batch = {"items": [0, 1, 2], "offset": 100, "parallel": 3,
             "template": {"i": {"__pesto_item": []}}}
    with pytest.raises(BatchError, match="item 101: bad 1"):
        run_batch(batch, call, store=open_store(tmp_path.as_uri()), key="k")


def test_stores_are_chosen_by_scheme_and_an_unknown_one_is_named():
    with pytest.raises(ValueError, match="no store for scheme 'mem'"):
        open_store("mem://x")
    saved: dict = {}

    class Memory:
        def write(self, key, value):  # noqa: ANN001, ANN201
            saved[key] = value
            return f"mem://{key}"

        def read(self, uri):  # noqa: ANN001, ANN201
            return saved[uri.removeprefix("mem://")]

    register_scheme("mem", lambda root: Memory())
    uri = run_batch({"items": [1], "template": {"a": {"__pesto_item": []}}},
                    lambda inputs: inputs, store=open_store("mem://root"), key="k")["manifest"]
    assert expand_fan_ins({"__pesto_manifests": [uri], "path": ["a"]}) == [1]
