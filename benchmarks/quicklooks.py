"""Quicklooks of the real scenes: true colour, reference, spectral and dl masks side by side.

    .venv/bin/python benchmarks/quicklooks.py [OUT_DIR]   # default docs/img/cloud-detection

One PNG per scene (halved to 256 px a panel). Mask colours: clear black, cloud white, shadow
orange, nodata magenta. The detectors run with the scene's sensor profile as in
benchmarks/mask_quality.py.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "examples" / "cloud-detection")]

from algorithm.bands import prepare_reflectance  # noqa: E402
from algorithm.detector import load_config, make_detector  # noqa: E402

from benchmarks.mask_quality import PROFILES, profile_config  # noqa: E402
from benchmarks.scenes import SCENES, load_scene  # noqa: E402

PALETTE = np.zeros((256, 3), dtype=np.uint8)
PALETTE[1], PALETTE[2], PALETTE[255] = (255, 255, 255), (255, 140, 0), (255, 0, 255)


def _true_colour(image: np.ndarray, config: dict) -> np.ndarray:
    inputs = load_config(config).inputs
    refl = prepare_reflectance(image, inputs, required=("red", "green", "blue"))
    rgb = np.clip(np.moveaxis(refl.stack(("red", "green", "blue")), 0, -1) / 0.35, 0, 1)
    return (rgb ** (1 / 1.8) * 255).astype(np.uint8)


def _write_png(path: Path, rgb: np.ndarray) -> None:
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", driver="PNG", width=rgb.shape[1], height=rgb.shape[0],
                           count=3, dtype="uint8") as dst:
            dst.write(np.moveaxis(rgb, -1, 0))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else REPO / "docs" / "img" / "cloud-detection"
    for scene in SCENES:
        image, reference, _ = load_scene(scene)
        spectral_profiles, dl_profiles = PROFILES[scene.sensor]
        panels = [_true_colour(image, profile_config(spectral_profiles, scene)),
                  PALETTE[reference]]
        for profiles in (spectral_profiles, dl_profiles):
            detector = make_detector(load_config(profile_config(profiles, scene)))
            panels.append(PALETTE[detector.detect(image)])
        _write_png(out / f"{scene.name}.png", np.concatenate([p[::2, ::2] for p in panels], 1))
        print(out / f"{scene.name}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
