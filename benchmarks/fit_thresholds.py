"""Choose a sensor's spectral thresholds on one half of its scene; the other half is held out.

    .venv/bin/python benchmarks/fit_thresholds.py landsat8 [--half top]

A coarse grid of round values, on the chosen half only (the detector runs on that half's pixels
alone, so the held-out half cannot leak in through the morphology): first the spectral tests
with the default radii, then the radii with the best tests. The score is Cohen's kappa, cloud vs
rest (3-class when the reference has a shadow class). A scene with a cirrus band is scored with
and without it (the mean of both): the profile must also hold for the usual 6-band stack.
Prints the best values, to be copied into algorithm/sensors.py, and their score on both
halves. The figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "examples" / "cloud-detection")]

from algorithm.detector import load_config, make_detector  # noqa: E402

from benchmarks.scenes import SCENES, load_scene, split_halves  # noqa: E402
from examples.quality import score_masks  # noqa: E402

TESTS = {
    "brightness_min": (0.06, 0.08, 0.10, 0.12, 0.15, 0.20),
    "hot_min": (-0.05, -0.04, -0.03, -0.02, 0.0, 0.03),
    "swir2_min": (0.03, 0.05, 0.07, 0.09, 0.11),
    "cirrus_min": (None, 0.015, 0.02, 0.03),
}
RADII = {"open_radius": (0, 1), "close_radius": (1, 2, 3), "dilate_radius": (0, 1)}


def _grid(space: dict[str, tuple]) -> list[dict]:
    return [dict(zip(space, values, strict=True)) for values in itertools.product(*space.values())]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scene", choices=[s.name for s in SCENES if s.image is not None])
    parser.add_argument("--half", choices=("top", "bottom"), default="top")
    args = parser.parse_args(argv)
    scene = next(s for s in SCENES if s.name == args.scene)
    image, reference, _ = load_scene(scene)
    halves = split_halves(reference.shape[0])
    rows = halves[args.half]

    config = {"sensor": scene.sensor, **scene.config}
    variants = [(config, image)]
    if "cirrus" in load_config(config).inputs.band_order:  # cirrus is the last band
        variants.append(({**config, "band_order": config["band_order"][:-1]}, image[:-1]))

    def one(config: dict, data, spectral: dict, part: slice) -> float:
        mask = make_detector(load_config({**config, "spectral": spectral})).detect(data[:, part])
        result = score_masks(reference[part], mask)
        return result.kappa_3class if scene.shadow_reference else result.kappa_cloud

    def score(spectral: dict, part: slice) -> float:
        return sum(one(c, d, spectral, part) for c, d in variants) / len(variants)

    best = max(_grid(TESTS), key=lambda tests: score(tests, rows))
    best = max(({**best, **radii} for radii in _grid(RADII)), key=lambda p: score(p, rows))
    print(f"best on the {args.half} half of {scene.name}: {best}")
    for name, part in halves.items():
        role = "chosen on" if name == args.half else "held out"
        each = ", ".join(f"{one(c, d, best, part):.3f}" for c, d in variants)
        print(f"  {name} half ({role}): kappa {score(best, part):.3f} (bands: all, no cirrus: "
              f"{each})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
