"""The example chain end to end through `packager pipeline run`, on the real Sentinel-2 crop.

The merged mask must equal the detector run once on the whole crop, with the service's own
config (profiles merged): bit for bit for the spectral detector thanks to the tiles' margin, and
for the CNN (`--profile cloud-detection=dl`) with one tile covering the crop.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pesto_factory.packager.cli import main

from tests.examples.conftest import read_raster, whole_scene_mask

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "examples" / "pipelines" / "cloud_mask.yaml"

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")]


@pytest.fixture(scope="module")
def crop(tmp_path_factory) -> Path:
    from examples.scenes import copy_sentinel2_crop

    return copy_sentinel2_crop(tmp_path_factory.mktemp("crop")).image


def _service_config(profiles: tuple[str, ...]) -> dict:
    from pesto_factory.runtime.project import ServiceProject

    return ServiceProject.load(REPO / "examples" / "cloud-detection", profiles).config


def _run(args: list[str], capsys) -> dict:
    code = main(["pipeline", "run", str(SPEC), *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_the_chain_mask_equals_the_detector_on_the_whole_crop(crop, tmp_path, capsys):
    out = tmp_path / "run"
    printed = _run(["--input", f"scene={crop}", "--output", str(out)], capsys)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "SUCCEEDED"
    assert summary["inputs"] == {"scene": crop.as_uri(), "tile_size": 256, "margin": 40}
    steps = {step["id"]: step for step in summary["steps"]}
    assert (steps["detect"]["calls"], steps["detect"]["items"]) == (4, 4)  # 512² in 256² tiles
    assert summary["files"] == {"mask": "mask.tif", "quicklook": "quicklook.png"}
    assert printed["files"]["mask"] == str(out / "mask.tif")

    mask, profile = read_raster(out / "mask.tif")
    expected = whole_scene_mask(crop, _service_config(()))
    np.testing.assert_array_equal(mask[0], expected)
    assert profile["dtype"] == "uint8" and profile["nodata"] == 255
    assert {0, 1, 2} <= set(np.unique(expected))
    valid = expected != 255
    assert summary["outputs"]["cloud_fraction"] == pytest.approx(
        (expected[valid] == 1).sum() / valid.sum())
    quicklook, look = read_raster(out / "quicklook.png")
    assert look["driver"] == "PNG" and quicklook.shape[1:] == expected.shape


def test_a_profile_override_runs_the_cnn(crop, tmp_path, capsys):
    out = tmp_path / "run"
    _run(["-i", f"scene={crop}", "-i", "tile_size=512", "--profile", "cloud-detection=dl",
          "-o", str(out)], capsys)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["services"]["cloud-detection"]["profiles"] == ["dl"]
    mask, _ = read_raster(out / "mask.tif")
    expected = whole_scene_mask(crop, _service_config(("dl",)))
    np.testing.assert_array_equal(mask[0], expected)  # one tile: the whole crop
    assert not np.array_equal(expected, whole_scene_mask(crop, _service_config(())))
