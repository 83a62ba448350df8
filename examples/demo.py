"""`make demo`: serve the NDVI example and call it over HTTP, synchronously and asynchronously.

Generates a small georeferenced 4-band scene, starts `pesto-runtime serve examples/ndvi` on
127.0.0.1, calls POST /process (sync) and POST /jobs (async, polled to the end), and prints
where the NDVI GeoTIFFs were written.
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
OUT = Path(os.environ.get("PESTO_DEMO_OUT", REPO / "out" / "demo")).resolve()


def write_scene(path: Path, size: int = 512) -> None:
    """A field-like 4-band (blue, green, red, nir) uint16 scene in UTM 31N, 10 m pixels."""
    rows, cols = np.mgrid[0:size, 0:size] / size
    vegetation = (np.sin(rows * 12) * np.cos(cols * 9) + 1) / 2  # 0 bare soil .. 1 dense crop
    red = 1200 - 800 * vegetation
    nir = 2000 + 2500 * vegetation
    bands = np.stack([red * 0.8, red * 0.9, red, nir]).astype(np.uint16)
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=4,
                       dtype="uint16", crs="EPSG:32631", nodata=0,
                       transform=from_origin(600000, 5000000, 10, 10)) as dst:
        dst.write(bands)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise SystemExit(f"demo: timed out waiting for {what}")


def main() -> int:
    scene = OUT / "scene.tif"
    write_scene(scene)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PESTO_STATE_DIR": str(OUT / "state"), "PESTO_INPUT_ROOTS": str(OUT),
           "PESTO_OUTPUT_ROOT": str(OUT / "outputs")}
    log = (OUT / "service.log").open("wb")
    service = subprocess.Popen([sys.executable, "-m", "runtime.cli", "serve",
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
        print(f"\nResults are in {OUT}")
        return 0
    finally:
        service.terminate()
        service.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
