"""The generated DAG on real Airflow 3 (SQLite, in-process `dag.test()`), against the three
example services on 127.0.0.1, on the real Sentinel-2 crop.

Airflow runs in subprocesses with their own AIRFLOW_HOME, so its configuration and environment
never leak into other tests. The merged mask must equal the detector run once on the whole crop.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.adapters import test_cloud_mask
from tests.adapters.airflow.harness import REPO, run_dag
from tests.adapters.airflow.harness import airflow_env as airflow_env_of
from tests.conftest import start_service
from tests.examples.conftest import read_raster, whole_scene_mask

DAGS = REPO / "dags"
SERVICES = ("tiling", "cloud-detection", "merge")
crop = test_cloud_mask.crop  # the real crop as a GeoTIFF (module fixture, skips without it)

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")]

#: An existing DAG that imports the generated operators, with deferred tiling and detection:
#: merge reads the masks from the detection service's result URLs.
_USER_DAG = """
from airflow.sdk import DAG
from pesto_factory.adapters.airflow.tasks import pesto_fan_out, pesto_gather
from cloud_mask_operators import CloudDetectionOperator, MergeOperator, TilingOperator

with DAG(dag_id="my-masks", schedule=None, render_template_as_native_obj=True) as dag:
    tiles = TilingOperator(task_id="cut", scene="{{ dag_run.conf['scene'] }}", tile_size=256,
                           deferrable=True, poll_interval=0.2, job_timeout=120)
    calls = pesto_fan_out.override(task_id="calls")(tiles.output, ["tiles"], {"tile": []},
                                                    max_map_length=2)
    masks = CloudDetectionOperator.partial(task_id="masks", tile=None, deferrable=True,
                                           max_parallel=1,
                                           poll_interval=0.2).expand(batch=calls)
    MergeOperator(task_id="merged", scene="{{ dag_run.conf['scene'] }}",
                  tiles=pesto_gather.override(task_id="gathered")(masks.output))
"""


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory, crop) -> dict[str, str]:
    """The three services started, their connections, and a migrated Airflow home."""
    root = tmp_path_factory.mktemp("airflow")
    outputs = {name: root / "services" / name / "outputs" for name in SERVICES}
    for folder in outputs.values():
        folder.mkdir(parents=True)
    roots = os.pathsep.join([str(crop.parent), *(str(folder) for folder in outputs.values())])
    started = []
    try:
        for name in SERVICES:
            started.append(start_service(
                REPO / "examples" / name, root / "services" / name / "state",
                env={"PESTO_INPUT_ROOTS": roots, "PESTO_OUTPUT_ROOT": str(outputs[name])}))
        yield airflow_env_of(root / "home", DAGS, {
            f"pesto_{name.replace('-', '_')}": service.url
            for name, service in zip(SERVICES, started, strict=True)})
    finally:
        for service in started:
            service.stop()


def _check_mask(mask_uri: str, crop: Path) -> np.ndarray:
    from pesto_factory.runtime.project import ServiceProject

    mask, profile = read_raster(mask_uri)
    config = ServiceProject.load(REPO / "examples" / "cloud-detection", ()).config
    expected = whole_scene_mask(crop, config)
    np.testing.assert_array_equal(mask[0], expected)
    assert profile["dtype"] == "uint8" and {0, 1, 2} <= set(np.unique(expected))
    return expected


def test_the_dags_folder_parses_without_import_errors(airflow_env, tmp_path):
    script = ("from pathlib import Path\n"
              "from airflow.dag_processing.dagbag import BundleDagBag\n"
              f"bag = BundleDagBag(dag_folder={str(DAGS)!r}, bundle_path=Path({str(DAGS)!r}), "
              "bundle_name='dags-folder')\n"
              "dag = bag.dags['cloud-mask']\n"
              "print('RESULT', bag.import_errors, sorted(t.task_id for t in dag.tasks), "
              "dag.render_template_as_native_obj)\n")
    done = subprocess.run([sys.executable, "-c", script], env=airflow_env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    assert ("RESULT {} ['detect', 'detect_items', 'detect_outputs', 'merge', 'outputs', 'tiling'] "
            "True" in done.stdout)


def test_running_the_dag_file_without_a_conf_names_the_missing_param(airflow_env, crop,
                                                                       tmp_path):
    """`python dags/cloud_mask.py` (its docstring's way) without a conf: one line naming the
    param that has no default, no traceback (the runs with a conf are the tests below)."""
    missing = subprocess.run([sys.executable, str(DAGS / "cloud_mask.py")], env=airflow_env,
                             cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines()[-1].startswith(
        "Invalid input for param scene: No value passed: give the run's conf as JSON")
    assert "Traceback" not in missing.stderr


def test_the_generated_dag_run_equals_the_detector_on_the_whole_crop(airflow_env, crop,
                                                                    tmp_path):
    result = run_dag(airflow_env, DAGS / "cloud_mask.py", {"scene": crop.as_uri()},
                      "outputs", tmp_path)
    assert result["state"] == "success", result["log"][-6000:]
    outputs = result["value"]
    assert sorted(outputs) == ["cloud_fraction", "mask", "quicklook"]
    assert outputs["mask"].startswith("file://")  # references in XCom, never pixels
    assert "XCom not found" not in result["log"]  # mapped outputs read in one slice
    expected = _check_mask(outputs["mask"], crop)
    valid = expected != 255
    assert outputs["cloud_fraction"] == pytest.approx((expected[valid] == 1).sum() / valid.sum())


def test_generated_operators_plug_into_an_existing_dag_with_a_deferred_step(airflow_env, crop,
                                                                            tmp_path):
    dag_file = tmp_path / "my_masks.py"
    dag_file.write_text(_USER_DAG)
    result = run_dag(airflow_env, dag_file, {"scene": crop.as_uri()}, "merged", tmp_path)
    assert result["state"] == "success", result["log"][-6000:]
    # tiling, then 2 mapped tasks of 2 tiles, one job per deferral (max_parallel=1)
    assert result["log"].count("submitted (calls") == 5
    assert "XCom not found" not in result["log"]
    _check_mask(result["value"]["mask"], crop)
