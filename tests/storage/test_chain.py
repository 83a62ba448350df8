"""The cloud-mask chain with nothing shared but the store: each service a separate process with
its own state and an empty folder of its own, no input root but none (so any file:// reference
passed between services fails), every image through the S3 server; the merged mask equals
the detector's on the whole real crop."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pesto_factory.packager.cli import main
from pesto_factory.runtime.imageio.objectstore import ObjectLocation, upload

from tests.examples.conftest import whole_scene_mask
from tests.storage.conftest import BUCKET

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "examples" / "pipelines" / "cloud_mask.yaml"

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")]


def test_the_chain_through_s3_equals_the_detector(crop, seaweed, s3_env, prefix, tmp_path,
                                                  monkeypatch, capsys):
    scene = ObjectLocation("s3", BUCKET, f"{prefix}/in/{crop.name}")
    upload(crop, scene)
    monkeypatch.setenv("PESTO_REMOTE_HOSTS", BUCKET)  # every service: this bucket only
    monkeypatch.chdir(tmp_path)  # the run's local folder (summary, logs) goes to ./runs/
    store = f"s3://{BUCKET}/{prefix}/run/"
    code = main(["pipeline", "run", str(SPEC), "--input", f"scene={scene.uri}",
                 "--output", store, "--parallel", "2"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    summary = json.loads(Path(json.loads(printed.out)["summary"]).read_text())
    assert summary["status"] == "SUCCEEDED" and summary["store"] == store

    mask_uri, quicklook_uri = summary["files"]["mask"], summary["files"]["quicklook"]
    assert mask_uri.startswith(f"s3://{BUCKET}/{prefix}/run/merge/")
    assert quicklook_uri.endswith(".png") and summary["outputs"]["mask"] == mask_uri
    with rasterio.open(ObjectLocation.parse(mask_uri).vsi) as src:
        mask = src.read(1)
    np.testing.assert_array_equal(mask, whole_scene_mask(crop))

    keys = seaweed.keys(BUCKET, f"{prefix}/run")
    tiles = [key for key in keys if key.startswith(f"{prefix}/run/cloud-detection/")]
    assert len(tiles) == summary["steps"][1]["items"] == 4
    # nothing written locally by any service: their output folders only staged uploads
    run_dir = Path(json.loads(printed.out)["summary"]).parent
    staged = [p for p in (run_dir / "services").rglob("outputs/**/*") if p.is_file()]
    assert staged == []
