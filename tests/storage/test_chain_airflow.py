"""The generated Airflow DAG of the cloud-mask chain with nothing shared but the store: the
three services private (own state, no input root, outputs under their own s3:// prefix), the
scene in the S3 server; Airflow's XComs carry s3:// references; the mask equals the detector's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pesto_factory.runtime.imageio.objectstore import ObjectLocation, upload

from tests.adapters.airflow.harness import run_dag
from tests.examples.conftest import whole_scene_mask
from tests.storage.conftest import BUCKET, start_private_services

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")]


def test_the_airflow_dag_through_s3(crop, seaweed, s3_env, prefix, tmp_path):
    scene = ObjectLocation("s3", BUCKET, f"{prefix}/in/{crop.name}")
    upload(crop, scene)
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update({"AIRFLOW_HOME": str(tmp_path / "home"), "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "PYTHONPATH": os.pathsep.join([str(REPO), str(DAGS)])})
    services = start_private_services(seaweed, tmp_path / "services", prefix)
    try:
        for name, service in services.items():
            port = int(service.url.rsplit(":", 1)[1])
            env[f"AIRFLOW_CONN_PESTO_{name.upper().replace('-', '_')}"] = json.dumps(
                {"conn_type": "http", "host": "127.0.0.1", "port": port})
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True,
                       capture_output=True, timeout=300)
        result = run_dag(env, DAGS / "cloud_mask.py", {"scene": scene.uri}, "outputs", tmp_path)
    finally:
        for service in services.values():
            service.stop()
    assert result["state"] == "success", result["log"][-3000:]
    mask_uri = result["value"]["mask"]
    assert mask_uri.startswith(f"s3://{BUCKET}/{prefix}/merge/")  # references in XCom
    with rasterio.open(ObjectLocation.parse(mask_uri).vsi) as src:
        np.testing.assert_array_equal(src.read(1), whole_scene_mask(crop))
    assert len(seaweed.keys(BUCKET, f"{prefix}/cloud-detection")) == 4
