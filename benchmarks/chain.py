"""The cloud-mask chain through the embedded runner against the detector called directly.

    .venv/bin/python benchmarks/chain.py [--size 4096] [--tile-size 1024]

One run, same machine: a synthetic 6-band uint16 scene is generated (a COG), then
  direct: the spectral detector in this process on the whole scene (read + detect + write),
  chain:  `packager pipeline run examples/pipelines/cloud_mask.yaml` (three local services
          started on 127.0.0.1, tiling -> cloud-detection per tile in parallel -> merge),
and the ratio chain / direct is printed, with the runner's own step timings (from its
summary.json) so service start-up and the steps can be told apart. The two masks are compared:
they must be equal.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the repo's `runtime` package, not benchmarks/runtime.py
sys.path.insert(1, str(REPO / "examples" / "cloud-detection"))

import numpy as np  # noqa: E402
import rasterio  # noqa: E402
from pesto_factory.runtime.imageio import write_image  # noqa: E402
from pesto_factory.runtime.project import ServiceProject  # noqa: E402

from examples.scenes import write_synthetic_scene  # noqa: E402


def direct(scene: Path, out: Path) -> float:
    """The detector on the whole scene, as a user would call it without any service."""
    from algorithm.detector import load_config, make_detector

    config = ServiceProject.load(REPO / "examples" / "cloud-detection").config
    start = time.perf_counter()
    detector = make_detector(load_config(config))
    with rasterio.open(scene) as src:
        data, crs, transform, nodata = src.read(), src.crs, src.transform, src.nodata
    mask = detector.detect(data, nodata=nodata)
    from pesto_factory.runtime import GeoImage

    write_image(GeoImage(mask[np.newaxis], crs=crs, transform=transform, nodata=255), out)
    return time.perf_counter() - start


def chain(scene: Path, out_dir: Path, tile_size: int) -> tuple[float, dict]:
    start = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("packager")), "pipeline", "run",
                    str(REPO / "examples/pipelines/cloud_mask.yaml"), "--input", f"scene={scene}",
                    "--input", f"tile_size={tile_size}", "--output", str(out_dir)],
                   check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    return seconds, json.loads((out_dir / "summary.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096, help="scene side in pixels")
    parser.add_argument("--tile-size", type=int, default=1024, help="tile side of the chain")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pesto-chain-") as tmp:
        tmp_path = Path(tmp)
        scene = tmp_path / "scene.tif"
        start = time.perf_counter()
        write_synthetic_scene(scene, height=args.size, width=args.size, seed=3, dtype="uint16")
        print(f"scene {args.size} x {args.size} x 6 uint16 written in "
              f"{time.perf_counter() - start:.1f} s")
        direct_seconds = direct(scene, tmp_path / "direct.tif")
        chain_seconds, summary = chain(scene, tmp_path / "run", args.tile_size)
        with rasterio.open(tmp_path / "direct.tif") as a, \
                rasterio.open(tmp_path / "run" / "mask.tif") as b:
            equal = np.array_equal(a.read(), b.read())
        steps = ", ".join(f"{s['id']} {s['seconds']:.2f} s ({s['calls']} call(s))"
                          for s in summary["steps"])
        print(f"direct (read + detect + write, 1 process): {direct_seconds:.2f} s")
        print(f"chain through the embedded runner:        {chain_seconds:.2f} s  [{steps}]")
        step_seconds = sum(s["seconds"] for s in summary["steps"])
        print(f"ratio chain / direct: {chain_seconds / direct_seconds:.2f} "
              f"(steps only: {step_seconds / direct_seconds:.2f}); masks equal: {equal}")
        if not equal:
            raise SystemExit("the chain's mask differs from the direct one")


if __name__ == "__main__":
    main()
