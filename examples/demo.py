"""`make demo`: the product end to end on one machine.

1. The REST API: generates a small georeferenced 4-band scene, starts `pesto-runtime serve
   examples/ndvi` on 127.0.0.1, calls POST /process (sync) and POST /jobs (async, polled to the
   end).
2. The main job: the cloud-mask chain (tiling -> cloud-detection per tile -> merge) run by the
   embedded runner (`packager pipeline run examples/pipelines/cloud_mask.yaml`) on the real
   Sentinel-2 L1C crop shipped in examples/data/, scored against its hand-made reference mask.

It ends by printing where every result is.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import numpy as np
import rasterio
from rasterio.transform import from_origin

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # examples.scenes, examples.quality

from pesto_factory.runtime.imageio import write_geotiff  # noqa: E402

from examples.quality import score_mask_files  # noqa: E402
from examples.scenes import sentinel2_crop  # noqa: E402

OUT = Path(os.environ.get("PESTO_DEMO_OUT", REPO / "out" / "demo")).resolve()


def write_scene(path: Path, size: int = 512) -> None:
    """A field-like 4-band (blue, green, red, nir) uint16 scene in UTM 31N, 10 m pixels."""
    rows, cols = np.mgrid[0:size, 0:size] / size
    vegetation = (np.sin(rows * 12) * np.cos(cols * 9) + 1) / 2  # 0 bare soil .. 1 dense crop
    red = 1200 - 800 * vegetation
    nir = 2000 + 2500 * vegetation
    bands = np.stack([red * 0.8, red * 0.9, red, nir]).astype(np.uint16)
    write_geotiff(path, bands, crs="EPSG:32631", nodata=0,
                  transform=from_origin(600000, 5000000, 10, 10))


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise SystemExit(f"demo: timed out waiting for {what}")


def ndvi_demo() -> Path:
    """Part 1: the NDVI service over HTTP; returns the async result's path."""
    scene = OUT / "scene.tif"
    write_scene(scene)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PESTO_STATE_DIR": str(OUT / "state"), "PESTO_INPUT_ROOTS": str(OUT),
           "PESTO_OUTPUT_ROOT": str(OUT / "outputs")}
    log = (OUT / "service.log").open("wb")
    service = subprocess.Popen([sys.executable, "-m", "pesto_factory.runtime.cli", "serve",
                                str(REPO / "examples" / "ndvi"), "--port", str(port)],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        def healthy() -> bool:
            if service.poll() is not None:
                raise SystemExit(f"demo: the service stopped; see {OUT / 'service.log'}")
            try:
                return httpx.get(f"{api}/health", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(healthy, 60, "the service")
        print(f"NDVI service up at {api}")
        with httpx.Client(timeout=120) as http:
            sync = http.post(f"{api}/process", json={"image": scene.as_uri()})
            sync.raise_for_status()
            print(f"sync  POST /process -> mean NDVI {sync.json()['mean']:.3f}, "
                  f"image {urlparse(sync.json()['ndvi']).path}")
            job = http.post(f"{api}/jobs", json={"image": scene.as_uri()}).json()
            status_url = job["_links"]["self"]["href"]
            final = wait_for(lambda: (s := http.get(status_url).json())["status"] in
                             ("SUCCEEDED", "FAILED") and s, 120, "the async job")
            if final["status"] != "SUCCEEDED":
                raise SystemExit(f"demo: async job failed: {final.get('message')}")
            ndvi = http.get(f"{api}/jobs/{job['jobId']}/results/ndvi")
            async_path = OUT / "ndvi-async.tif"
            async_path.write_bytes(ndvi.content)
            print(f"async POST /jobs -> job {job['jobId']} {final['status']}, "
                  f"result saved to {async_path}")
        with rasterio.open(async_path) as result:
            print(f"output: {result.count} band {result.dtypes[0]} {result.width}x{result.height}"
                  f", CRS {result.crs}, pixel {result.res[0]:g} m")
        return async_path
    finally:
        service.terminate()
        service.wait(timeout=30)


def cloud_mask_demo() -> Path:
    """Part 2: the cloud-mask chain on the real crop through the embedded runner."""
    files = sentinel2_crop()
    scene, reference = files.image, files.mask
    print(f"\nscene: real Sentinel-2 L1C crop (512 x 512, 6 bands) {scene.relative_to(REPO)}")
    run_dir = OUT / "cloud-mask"
    command = [str(Path(sys.executable).with_name("packager")), "pipeline", "run",
               str(REPO / "examples" / "pipelines" / "cloud_mask.yaml"),
               "--input", f"scene={scene}", "--output", str(run_dir)]
    print("$ packager pipeline run examples/pipelines/cloud_mask.yaml --input scene=... "
          f"--output {run_dir}")
    if subprocess.run(command).returncode != 0:
        raise SystemExit(f"demo: the pipeline failed; see {run_dir / 'summary.json'}")
    score = score_mask_files(run_dir / "mask.tif", reference)
    print(f"mask vs reference: Cohen's kappa {score.kappa_cloud:.3f} (cloud vs rest), "
          f"{score.kappa_3class:.3f} (clear/cloud/shadow); cloud fraction "
          f"{score.cloud_fraction_predicted:.1%} (reference {score.cloud_fraction_reference:.1%})")
    return run_dir


def main() -> int:
    ndvi = ndvi_demo()
    run_dir = cloud_mask_demo()
    print("\nResults:")
    print(f"  NDVI (async job result):  {ndvi}")
    print(f"  cloud mask (COG):         {run_dir / 'mask.tif'}")
    print(f"  quicklook (PNG):          {run_dir / 'quicklook.png'}")
    print(f"  run summary:              {run_dir / 'summary.json'}")
    print(f"  everything:               {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
