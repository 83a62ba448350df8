"""The cloud-mask chain with nothing shared but the store: each service a separate process with
its own state and an empty folder of its own, no input root but none (so any file:// reference
passed between services fails), every image through the S3 server; the merged mask equals
the detector's on the whole scene (the real crop, and a generated scene given in the spec's
`output:` instead of --output)."""

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


def test_a_generated_scene_with_the_output_in_the_spec(seaweed, s3_env, prefix, tmp_path):
    from pesto_factory.adapters.local import run_pipeline
    from pesto_factory.adapters.pipeline import load_pipeline

    from examples.scenes import write_synthetic_scene

    local = tmp_path / "scene.tif"
    write_synthetic_scene(local, height=600, width=520, seed=4, dtype="uint16")
    scene = ObjectLocation("s3", BUCKET, f"{prefix}/in/scene.tif")
    upload(local, scene)
    spec = tmp_path / "cloud_mask.yaml"
    store = f"s3://{BUCKET}/{prefix}/spec-run/"
    spec.write_text(SPEC.read_text().replace("../", f"{SPEC.parent.parent}/")
                    + f"\noutput: {store}\n")
    summary = run_pipeline(load_pipeline(spec), {"scene": scene.uri},
                           output_dir=tmp_path / "run", parallel=2)
    assert summary.store == store and summary.files["mask"].startswith(store + "merge/")
    with rasterio.open(ObjectLocation.parse(summary.files["mask"]).vsi) as src:
        np.testing.assert_array_equal(src.read(1), whole_scene_mask(local))
