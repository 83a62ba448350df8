"""The example chain (tiling -> cloud detection per tile -> merge) as the committed Conductor
workflow, run by the SDK's workers against the test server on the real Sentinel-2 crop: the
merged mask equals the detector run once on the whole crop, as with the embedded runner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pesto_factory.adapters.conductor.batch import expand_fan_ins
from pesto_factory.adapters.conductor.worker import register_definitions
from pesto_factory.runtime.project import ServiceProject

from tests.adapters.conductor.conftest import running_workers
from tests.conftest import start_service
from tests.examples.conftest import read_raster, whole_scene_mask

REPO = Path(__file__).resolve().parents[3]
WORKFLOWS = REPO / "workflows"

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")]


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """The crop and the three example services, all reading under one root folder."""
    from examples.scenes import copy_sentinel2_crop

    root = tmp_path_factory.mktemp("conductor-chain")
    crop = copy_sentinel2_crop(root / "inputs").image
    started = {}
    try:
        for name, workers in (("tiling", 1), ("cloud-detection", 2), ("merge", 1)):
            started[name] = start_service(REPO / "examples" / name, root / f"state-{name}",
                                          env={"PESTO_INPUT_ROOTS": str(root),
                                               "PESTO_WORKERS": str(workers)})
        yield crop, {name: service.url for name, service in started.items()}
    finally:
        for service in started.values():
            service.stop()


def test_the_committed_workflow_masks_the_crop_like_the_detector(chain, conductor):
    crop, urls = chain
    task_defs = json.loads((WORKFLOWS / "taskdefs.json").read_text())
    workflow_def = json.loads((WORKFLOWS / "cloud-mask.workflow.json").read_text())
    register_definitions(conductor.configuration(), task_defs, workflow_def)
    tasks = {"pesto_tiling": urls["tiling"], "pesto_cloud_detection": urls["cloud-detection"],
             "pesto_merge": urls["merge"]}
    with running_workers(conductor, tasks, thread_count=2):
        workflow = conductor.wait(conductor.start("cloud-mask", {"scene": crop.as_uri()}),
                                  timeout=120)
    assert workflow["status"] == "COMPLETED", workflow["reasonForIncompletion"]
    forks = [t for t in workflow["tasks"] if t["taskDefName"] == "pesto_cloud_detection"]
    tiles = sum(len(t["inputData"]["__pesto_batch"]["items"]) if "__pesto_batch" in
                t["inputData"] else 1 for t in forks)  # batches, or one fork per tile before
    assert tiles == 4  # the 512 x 512 crop in 256 x 256 tiles (inputTemplate defaults)
    merge = next(t for t in workflow["tasks"] if t["referenceTaskName"] == "merge")
    assert merge["scheduledTime"] >= max(t["endTime"] for t in forks)
    # the merge worker's input: the tiles inline, or loaded from the batches' manifests
    windows = [tile["window"] for tile in expand_fan_ins(merge["inputData"]["tiles"])]
    assert windows == sorted(windows, key=lambda w: (w["row_off"], w["col_off"]))

    mask, profile = read_raster(workflow["output"]["mask"])  # an Image: a file:// URI
    config = ServiceProject.load(REPO / "examples" / "cloud-detection").config
    expected = whole_scene_mask(crop, config)
    np.testing.assert_array_equal(mask[0], expected)
    assert profile["dtype"] == "uint8" and {0, 1, 2} <= set(np.unique(expected))
    valid = expected != 255
    assert workflow["output"]["cloud_fraction"] == pytest.approx(
        (expected[valid] == 1).sum() / valid.sum())
