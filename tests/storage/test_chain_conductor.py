"""The committed Conductor workflow of the cloud-mask chain with nothing shared but the store:
three services, each its own process, state folder and output prefix, no local input root,
the scene and every image in the S3 server; the mask equals the detector's on the whole crop."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pesto_factory.adapters.conductor.worker import register_definitions
from pesto_factory.runtime.imageio.objectstore import ObjectLocation, upload

from tests.adapters.conductor.conftest import conductor, running_workers  # noqa: F401
from tests.examples.conftest import whole_scene_mask
from tests.storage.conftest import BUCKET, start_private_services

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / "workflows"

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")]


def test_the_conductor_workflow_through_s3(crop, seaweed, s3_env, prefix, tmp_path,
                                           conductor):  # noqa: F811
    scene = ObjectLocation("s3", BUCKET, f"{prefix}/in/{crop.name}")
    upload(crop, scene)
    services = start_private_services(seaweed, tmp_path / "services", prefix)
    try:
        register_definitions(conductor.configuration(),
                             json.loads((WORKFLOWS / "taskdefs.json").read_text()),
                             json.loads((WORKFLOWS / "cloud-mask.workflow.json").read_text()))
        tasks = {"pesto_tiling": services["tiling"].url,
                 "pesto_cloud_detection": services["cloud-detection"].url,
                 "pesto_merge": services["merge"].url}
        with running_workers(conductor, tasks, thread_count=2):
            workflow = conductor.wait(conductor.start("cloud-mask", {"scene": scene.uri}),
                                      timeout=180)
    finally:
        for service in services.values():
            service.stop()
    assert workflow["status"] == "COMPLETED", workflow["reasonForIncompletion"]
    mask_uri = workflow["output"]["mask"]
    assert mask_uri.startswith(f"s3://{BUCKET}/{prefix}/merge/")
    with rasterio.open(ObjectLocation.parse(mask_uri).vsi) as src:
        np.testing.assert_array_equal(src.read(1), whole_scene_mask(crop))
    tiles = seaweed.keys(BUCKET, f"{prefix}/cloud-detection")
    assert len(tiles) == 4
