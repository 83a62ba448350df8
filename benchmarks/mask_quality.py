"""Mask quality benchmark: Cohen's kappa of the cloud detectors against real reference masks.

    .venv/bin/python benchmarks/mask_quality.py [--synthetic-size 1024]

1. Every real scene of benchmarks/scenes.py (the Sentinel-2 L1C crop; a Landsat-8 L1 crop,
   digital numbers; a Landsat-7 crop) with every profile of its sensor, as the service merges
   them from examples/cloud-detection/pesto/api (`-p landsat8`, `-p dl landsat8`, ...): kappa
   cloud vs rest and clear/cloud/shadow on the whole crop and on its two halves (the half that
   chose the sensor's thresholds is marked; the other is held out). Each scene's band
   descriptions are checked against the profile's band order, as the service does. The
   Sentinel-2 crop is written as a COG and each mask scored file against file.
2. Locality: the spectral detector tiled with `required_margin` (and with none) against the
   whole-crop result; the CNN tiled (256 px tiles) with its advisory margin and with none.
3. A synthetic scene (known truth) scored the same way.

Prints a Markdown report (the figures of docs/benchmarks.md (mask quality)). Times are for
information only: what counts here is agreement with the reference.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "examples" / "cloud-detection"))
CONFIG = REPO / "examples" / "cloud-detection" / "pesto" / "api" / "config.json"
# The profiles each sensor's scenes are measured with, as `pesto build -p ...` merges them.
PROFILES = {"sentinel2": ((), ("dl",)), "landsat8": (("landsat8",), ("dl", "landsat8"))}

from algorithm.bands import InputSpec  # noqa: E402
from algorithm.cloudmask import CloudMaskParams, detect_clouds, required_margin  # noqa: E402
from algorithm.csmask_model import CsmaskModel  # noqa: E402
from algorithm.detector import check_bands, load_config, make_detector  # noqa: E402
from pesto_factory.runtime.configfiles import deep_merge, read_with_profiles  # noqa: E402

from benchmarks.scenes import SCENES, Scene, load_scene, split_halves  # noqa: E402
from examples.quality import MaskScore, score_mask_files, score_masks  # noqa: E402
from examples.scenes import sentinel2_crop, write_cog, write_synthetic_scene  # noqa: E402

Detect = Callable[[np.ndarray], np.ndarray]


def _read(path: Path) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        dataset = rasterio.open(path)
    with dataset:
        return dataset.read()


def _tiled(detect: Detect, image: np.ndarray, *, tile: int, margin: int) -> np.ndarray:
    rows, cols = image.shape[1:]
    out = np.zeros((rows, cols), dtype=np.uint8)
    for r0 in range(0, rows, tile):
        for c0 in range(0, cols, tile):
            r1, c1 = min(r0 + tile, rows), min(c0 + tile, cols)
            rr0, cc0 = max(r0 - margin, 0), max(c0 - margin, 0)
            block = detect(image[:, rr0:min(r1 + margin, rows), cc0:min(c1 + margin, cols)])
            out[r0:r1, c0:c1] = block[r0 - rr0:r1 - rr0, c0 - cc0:c1 - cc0]
    return out


def _row(name: str, score: MaskScore, seconds: float | None = None, *,
         shadow: bool = True) -> str:
    time_cell = f"{seconds:.2f}" if seconds is not None else ""
    three = f"{score.kappa_3class:.3f}" if shadow else "n/a"
    return (f"| {name} | {score.kappa_cloud:.3f} | {three} | "
            f"{score.accuracy_3class:.3f} | {score.cloud_fraction_predicted:.3f} | {time_cell} |")


def profile_config(profiles: tuple[str, ...], scene: Scene) -> dict:
    """The service config merged with the profiles, then the scene's own keys."""
    return deep_merge(read_with_profiles(CONFIG, profiles), scene.config)


def _scene_runs(scene: Scene) -> list[tuple[str, dict, slice | None]]:
    """(label, config, band selection) for each profile, plus the Landsat-8 scene without B9."""
    runs = []
    for profiles in PROFILES[scene.sensor]:
        config = profile_config(profiles, scene)
        runs.append((f"-p {' '.join(profiles)}" if profiles else "default", config, None))
        if scene.name == "landsat8" and "dl" not in profiles:  # the cirrus test's share
            six = {**config, "band_order": config["band_order"][:6]}
            runs.append((f"-p {' '.join(profiles)}, 6 bands (no B9)", six, slice(0, 6)))
    return runs


def _scene_report(scene: Scene, image: np.ndarray, reference: np.ndarray,
                  names: tuple, work: Path) -> tuple[list[str], dict]:
    halves = split_halves(reference.shape[0])
    lines, masks = [], {}
    for label, config, bands in _scene_runs(scene):
        detector = make_detector(load_config(config))
        data = image if bands is None else image[bands]
        check_bands(detector, names if bands is None else names[bands])
        detector.detect(data[:, :64, :64])  # warm-up: first-call costs out of the timing
        start = time.perf_counter()
        mask = detector.detect(data)
        seconds = time.perf_counter() - start
        masks[label] = mask
        path = write_cog(work / f"mask_{scene.name}_{len(masks)}.tif", mask[np.newaxis],
                         nodata=255, resampling="nearest")
        reference_path = write_cog(work / f"reference_{scene.name}.tif",
                                   reference[np.newaxis], nodata=255, resampling="nearest")
        shadow = scene.shadow_reference
        lines.append(_row(f"{scene.name} | {label} | whole crop",
                          score_mask_files(path, reference_path), seconds, shadow=shadow))
        for half, rows in halves.items():
            role = ("" if scene.fitted_on is None or config.get("algorithm") == "dl" else
                    " (chose the thresholds)" if half == scene.fitted_on else " (held out)")
            lines.append(_row(f"{scene.name} | {label} | {half} half{role}",
                              score_masks(reference[rows], mask[rows]), shadow=shadow))
    return lines, masks


def _scenes_report(work: Path) -> tuple[list[str], dict]:
    lines = ["| scene | profile | part | kappa cloud | kappa 3-class | accuracy 3-class "
             "| cloud fraction | seconds |", "|---|---|---|---|---|---|---|---|"]
    crop = {}
    for scene in SCENES:
        if scene.image is None:  # the Sentinel-2 crop, through its COG as a service reads it
            files = sentinel2_crop()  # shipped in examples/data/
            image, reference = _read(files.image), _read(files.mask)[0]
            with rasterio.open(files.image) as dataset:
                names = tuple(dataset.descriptions)
        else:
            image, reference, names = load_scene(scene)
        scene_lines, masks = _scene_report(scene, image, reference, names, work)
        lines += scene_lines
        fraction = score_masks(reference, reference).cloud_fraction_predicted
        lines.append(f"| {scene.name} | reference | | | | | {fraction:.3f} | |")
        if scene.image is None:
            crop = {"image": image, "masks": {"spectral": masks["default"], "dl": masks["-p dl"]}}
    return lines, crop


def _locality_report(image: np.ndarray, masks: dict, detectors: dict[str, Detect],
                     dl_margin: int) -> list[str]:
    lines = ["| detector | tile | margin | pixels differing from whole | agreement |",
             "|---|---|---|---|---|"]
    spectral_margin = required_margin(CloudMaskParams())
    cases = [("spectral", 128, spectral_margin), ("spectral", 128, 0),
             ("dl", 256, dl_margin), ("dl", 256, 0)]
    for name, tile, margin in cases:
        if name not in detectors:
            continue
        result = _tiled(detectors[name], image, tile=tile, margin=margin)
        differ = int((result != masks[name]).sum())
        lines.append(f"| {name} | {tile} | {margin} | {differ} | {1 - differ / result.size:.4f} |")
    return lines


def _synthetic_report(detectors: dict[str, Detect], size: int, work: Path) -> list[str]:
    scene = write_synthetic_scene(work / "synthetic.tif", height=size, width=size, seed=0,
                                  dtype=np.uint16, nodata_border=16)
    image = _read(scene.path)
    lines = ["| detector | kappa cloud | kappa 3-class | accuracy 3-class | cloud fraction "
             "| seconds |", "|---|---|---|---|---|---|"]
    for name, detect in detectors.items():
        start = time.perf_counter()
        mask = detect(image)
        seconds = time.perf_counter() - start
        lines.append(_row(f"{name}, synthetic {size}x{size} seed 0", score_masks(scene.mask, mask),
                          seconds))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic-size", type=int, default=1024)
    args = parser.parse_args(argv)
    dl6 = CsmaskModel()
    dl4 = CsmaskModel(inputs=InputSpec(band_order=("blue", "green", "red", "nir")))
    detectors: dict[str, Detect] = {
        "spectral": detect_clouds,
        "dl": dl6.detect,
        "dl-4band": lambda image: dl4.detect(image[:4]),
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        scene_lines, crop = _scenes_report(work)
        print("## Real scenes, every sensor profile (30 m)\n")
        print("\n".join(scene_lines))
        print("\n## Tiled against whole (real Sentinel-2 crop)\n")
        print("\n".join(_locality_report(crop["image"], crop["masks"], detectors, dl6.margin)))
        print("\n## Synthetic scene (uint16 DN, known truth)\n")
        print("\n".join(_synthetic_report(detectors, args.synthetic_size, work)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
