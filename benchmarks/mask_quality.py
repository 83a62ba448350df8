"""Mask quality benchmark: Cohen's kappa of the cloud detectors against the real reference.

    .venv/bin/python benchmarks/mask_quality.py [--synthetic-size 1024]

1. The real Sentinel-2 L1C crop shipped in examples/data/ (examples/scenes.py) is read, and
   each detector's mask is written as a COG and scored file against file (examples/quality.py):
   kappa cloud vs rest and clear/cloud/shadow, on the whole crop and on its two halves. The
   spectral thresholds were chosen on the top half only, so the bottom half is held out.
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

from algorithm.bands import InputSpec  # noqa: E402
from algorithm.cloudmask import CloudMaskParams, detect_clouds, required_margin  # noqa: E402
from algorithm.csmask_model import CsmaskModel  # noqa: E402

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


def _row(name: str, score: MaskScore, seconds: float | None = None) -> str:
    time_cell = f"{seconds:.2f}" if seconds is not None else ""
    return (f"| {name} | {score.kappa_cloud:.3f} | {score.kappa_3class:.3f} | "
            f"{score.accuracy_3class:.3f} | {score.cloud_fraction_predicted:.3f} | {time_cell} |")


def _crop_report(detectors: dict[str, Detect], work: Path) -> tuple[list[str], dict]:
    files = sentinel2_crop()
    image, reference = _read(files.image), _read(files.mask)[0]
    half = reference.shape[0] // 2
    lines = ["| detector | kappa cloud | kappa 3-class | accuracy 3-class | cloud fraction "
             "| seconds |", "|---|---|---|---|---|---|"]
    masks = {}
    for name, detect in detectors.items():
        detect(image[:, :64, :64])  # warm-up: first-call costs out of the timing
        start = time.perf_counter()
        mask = detect(image)
        seconds = time.perf_counter() - start
        masks[name] = mask
        path = write_cog(work / f"mask_{name}.tif", mask[np.newaxis], nodata=255,
                         resampling="nearest")
        lines.append(_row(f"{name}, whole crop", score_mask_files(path, files.mask), seconds))
        lines.append(_row(f"{name}, top half", score_masks(reference[:half], mask[:half])))
        lines.append(_row(f"{name}, bottom half", score_masks(reference[half:], mask[half:])))
    lines.append(f"| reference | | | | {score_masks(reference, reference).cloud_fraction_predicted:.3f} | |")
    return lines, {"image": image, "masks": masks}


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
        crop_lines, crop = _crop_report(detectors, work)
        print("## Real Sentinel-2 L1C crop (512 x 512, 30 m)\n")
        print("\n".join(crop_lines))
        print("\n## Tiled against whole (real crop)\n")
        print("\n".join(_locality_report(crop["image"], crop["masks"], detectors, dl6.margin)))
        print("\n## Synthetic scene (uint16 DN, known truth)\n")
        print("\n".join(_synthetic_report(detectors, args.synthetic_size, work)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
