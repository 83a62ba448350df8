"""Images through the object store (SeaweedFS, S3 API) against through a local folder.

    .venv/bin/python benchmarks/storage.py [--rounds 15] [--size 4096] [--tile-size 1024]

One run, same machine, one SeaweedFS server on 127.0.0.1 started for it (tests/storage/seaweed.py):
  reference round trip: the echo service reads a 4 x 1024 x 1024 uint16 tile by reference and
      writes it back as a COG, the caller reads the output raster; the tile and the output in a
      folder (file://) against in the store (s3://: PESTO_OUTPUT_ROOT=s3://..., GDAL /vsis3/);
  chain: `packager pipeline run examples/pipelines/cloud_mask.yaml` on a synthetic 6-band
      scene, the scene and every image in a folder against in the store (--output s3://...);
      the two masks must be equal.
Ratios are store / folder (target for the chain: <= 1.3).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `tests` (the SeaweedFS helper), not benchmarks/runtime.py

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import rasterio  # noqa: E402
from pesto_factory.runtime.imageio.objectstore import ObjectLocation, upload  # noqa: E402

from examples.scenes import write_synthetic_scene  # noqa: E402
from tests.conftest import start_service  # noqa: E402
from tests.storage.seaweed import BUCKET, start_seaweedfs  # noqa: E402

ECHO = REPO / "benchmarks" / "services" / "echo"


def median_seconds(call, rounds: int) -> float:
    call()  # warm-up (worker start, GDAL and connection caches)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def read_back(uri: str) -> np.ndarray:
    path = ObjectLocation.parse(uri).vsi if uri.startswith("s3://") else uri.removeprefix("file://")
    with rasterio.open(path) as src:
        return src.read()


def bench_round_trip(tmp: Path, rounds: int) -> float:
    tile = tmp / "tile.tif"
    data = np.random.default_rng(0).integers(0, 10000, (4, 1024, 1024), dtype=np.uint16)
    with rasterio.open(tile, "w", driver="GTiff", width=1024, height=1024, count=4,
                       dtype="uint16") as dst:
        dst.write(data)
    remote = ObjectLocation("s3", BUCKET, "bench/in/tile.tif")
    upload(tile, remote)
    cases = {"folder": ({"PESTO_INPUT_ROOTS": str(tmp)}, tile.as_uri()),
             "s3": ({"PESTO_OUTPUT_ROOT": f"s3://{BUCKET}/bench/out"}, remote.uri)}
    seconds = {}
    for name, (env, href) in cases.items():
        service = start_service(ECHO, tmp / f"state-{name}", env=env)
        try:
            with httpx.Client(base_url=f"{service.url}/api/v1", timeout=120) as http:
                def call(href: str = href) -> None:
                    response = http.post("/process", json={"image": href})
                    assert response.status_code == 200, response.text
                    assert read_back(response.json()["image"]).shape == data.shape

                seconds[name] = median_seconds(call, rounds)
        finally:
            service.stop()
    ratio = seconds["s3"] / seconds["folder"]
    print(f"reference round trip, 4x1024x1024 uint16 ({data.nbytes / 2**20:.0f} MiB): folder "
          f"{seconds['folder'] * 1e3:.1f} ms, s3 {seconds['s3'] * 1e3:.1f} ms, ratio {ratio:.2f}")
    return ratio


def run_chain(scene: str, output: str, tile_size: int, cwd: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).with_name("packager")), "pipeline", "run",
         str(REPO / "examples/pipelines/cloud_mask.yaml"), "--input", f"scene={scene}",
         "--input", f"tile_size={tile_size}", "--output", output],
        check=True, capture_output=True, text=True, cwd=cwd)
    seconds = time.perf_counter() - start
    return seconds, json.loads(Path(json.loads(done.stdout)["summary"]).read_text())


def bench_chain(tmp: Path, size: int, tile_size: int) -> float:
    scene = tmp / "scene.tif"
    write_synthetic_scene(scene, height=size, width=size, seed=3, dtype="uint16")
    remote = ObjectLocation("s3", BUCKET, "bench/chain/scene.tif")
    upload(scene, remote)
    folder_s, folder = run_chain(str(scene), str(tmp / "run"), tile_size, tmp)
    s3_s, stored = run_chain(remote.uri, f"s3://{BUCKET}/bench/chain/run/", tile_size, tmp)
    equal = np.array_equal(read_back(str(tmp / "run" / "mask.tif")),
                           read_back(stored["files"]["mask"]))

    def steps(summary: dict) -> str:
        return ", ".join(f"{s['id']} {s['seconds']:.2f}" for s in summary["steps"])

    ratio = s3_s / folder_s
    print(f"chain {size} x {size} x 6 uint16, tiles {tile_size}: folder {folder_s:.2f} s "
          f"(steps: {steps(folder)}), s3 {s3_s:.2f} s (steps: {steps(stored)}), "
          f"ratio {ratio:.2f}; masks equal: {equal}")
    step_ratio = (sum(s["seconds"] for s in stored["steps"])
                  / sum(s["seconds"] for s in folder["steps"]))
    print(f"  the three steps only: ratio {step_ratio:.2f}")
    if not equal:
        raise SystemExit("the masks differ")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="round trips per storage")
    parser.add_argument("--size", type=int, default=4096, help="chain scene side in pixels")
    parser.add_argument("--tile-size", type=int, default=1024, help="tile side of the chain")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pesto-storage-") as tmp_name:
        tmp = Path(tmp_name)
        server = start_seaweedfs(tmp / "seaweedfs")
        with contextlib.ExitStack() as stack:
            stack.callback(server.stop)
            os.environ.update(server.env("writer"))  # this process and the services it starts
            rows = [("reference round trip (4x1024x1024 uint16)",
                     bench_round_trip(tmp, args.rounds), "-"),
                    (f"chain {args.size}x{args.size}", bench_chain(tmp, args.size, args.tile_size),
                     "<= 1.3")]
    print("\n| measure | s3 / folder | target |\n|---|---|---|")
    for label, ratio, target in rows:
        print(f"| {label} | {ratio:.2f} | {target} |")


if __name__ == "__main__":
    main()
