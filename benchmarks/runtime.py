"""Runtime overhead benchmark: the PESTO service against a bare FastAPI app, in one run.

    .venv/bin/python benchmarks/runtime.py [--duration 5] [--rounds 15]

1. No-op throughput and p50/p99 latency at 1 and 32 concurrent clients (wrk, a separate
   process, so the load generator is not the bottleneck): POST /api/v1/process on a no-op
   service against POST /noop on the bare app, and against POST /hop (the bare app plus a
   round trip to one worker process over a pipe: the isolation the runtime pays for).
   Targets: >= 0.8x the bare app, or, where the process hop alone makes that impossible,
   >= 0.9x the bare process hop.
2. A 4-band 1024x1024 uint16 GeoTIFF round trip through an echo service, by base64 JSON, by raw
   binary body (Accept: image/tiff) and by reference (file:// in, file:// out, read back),
   against a raw octet-stream echo on the bare app. Target: binary and reference <= 1.5x.

3. Retry-After: 64 clients each make 5 calls of 20 ms against a one-worker service with the
   default queue, then with PESTO_QUEUE=8, following Retry-After on every 503: how many calls
   were refused, how many retries a client made, and how many retries were refused again.

Ratios are what count: both sides run on the same machine in the same minute.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import httpx
import numpy as np
import rasterio
from rasterio.transform import from_origin

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early ({url})")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"server not healthy in {timeout} s: {url}")


_PIDS: dict[str, int] = {}  # server URL -> pid of its main process


def cpu_seconds(url: str) -> float:
    """CPU time (user + system) the server's main process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{_PIDS[url]}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(args: list[str], health_path: str, env: dict[str, str] | None = None):
    port = free_port()
    process = subprocess.Popen([*args, "--port", str(port)], cwd=REPO,
                               env={**os.environ, **(env or {})},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    _PIDS[url] = process.pid
    try:
        wait_healthy(url + health_path, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def bare_app():
    return server([sys.executable, "-m", "uvicorn", "baseline_app:app", "--app-dir", str(HERE),
                   "--log-level", "warning", "--no-access-log"], "/docs")


def pesto_service(name: str, state: Path, workers: int, **settings: str):
    env = {"PESTO_STATE_DIR": str(state / name), "PESTO_WORKERS": str(workers),
           "PESTO_INPUT_ROOTS": str(state), **settings}
    return server([sys.executable, "-m", "pesto_factory.runtime.cli", "serve", str(HERE / "services" / name),
                   "--log-level", "warning"], "/api/v1/health", env)


_LUA = 'wrk.method = "POST"\nwrk.body = "{}"\nwrk.headers["Content-Type"] = "application/json"\n'


def wrk(url: str, connections: int, duration: float, script: Path) -> dict[str, float]:
    threads = min(connections, 2)
    server_url = url[:url.index("/", len("http://"))]
    cpu_before = cpu_seconds(server_url)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency", "-s",
         str(script), url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{url}: {errors.group(1)} failed responses\n{out}")

    def percentile(label: str) -> float:
        value, unit = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    requests = int(re.search(r"(\d+) requests in", out).group(1))
    cpu_us = (cpu_seconds(server_url) - cpu_before) / max(requests, 1) * 1e6
    return {"rps": rate, "p50": percentile("50"), "p99": percentile("99"), "cpu_us": cpu_us}


def write_tile(path: Path) -> None:
    rng = np.random.default_rng(0)
    data = rng.integers(0, 10000, size=(4, 1024, 1024), dtype=np.uint16)
    with rasterio.open(path, "w", driver="GTiff", width=1024, height=1024, count=4,
                       dtype="uint16", crs="EPSG:32631",
                       transform=from_origin(600000, 5000000, 10, 10)) as dst:
        dst.write(data)


def median_seconds(call, rounds: int) -> float:
    call()  # warm-up (worker start, caches)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_noop(state: Path, duration: float, workers: int) -> list[tuple[str, float, str]]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for the throughput part: apt-get install -y wrk")
    script = state / "post.lua"
    script.write_text(_LUA)
    rows = []
    with bare_app() as bare, pesto_service("noop", state, workers) as pesto:
        for clients in (1, 32):
            base = wrk(f"{bare}/noop", clients, duration, script)
            hop = wrk(f"{bare}/hop", clients, duration, script)
            ours = wrk(f"{pesto}/api/v1/process", clients, duration, script)
            for name, figures in (("bare", base), ("bare + process hop", hop), ("pesto", ours)):
                print(f"no-op, {clients:2d} client(s), {name:18s} {figures['rps']:8.0f} req/s "
                      f"p50 {figures['p50']:.2f} ms p99 {figures['p99']:.2f} ms, "
                      f"{figures['cpu_us']:.0f} us CPU/request in the server's main process")
            rows.append((f"no-op throughput, {clients} client(s), vs bare app",
                         ours["rps"] / base["rps"], ">= 0.80"))
            rows.append((f"no-op throughput, {clients} client(s), vs bare process hop",
                         ours["rps"] / hop["rps"], ">= 0.90"))
            rows.append((f"no-op main-process CPU per request, {clients} client(s), "
                         "bare process hop / pesto", hop["cpu_us"] / ours["cpu_us"], "(less load-sensitive)"))
    return rows


def bench_retry_after(state: Path) -> list[tuple[str, float, str]]:
    """Clients that follow Retry-After: are they served when they come back?"""
    import asyncio

    async def client(http: httpx.AsyncClient, url: str, tally: dict) -> None:
        for _ in range(5):
            retried = False
            while True:
                response = await http.post(url, json={"seconds": 0.02})
                if response.status_code != 503:
                    assert response.status_code == 200, response.text
                    break
                tally["refused"] += 1
                tally["refused_again"] += retried
                retried = True
                tally["retries"] += 1
                await asyncio.sleep(int(response.headers["retry-after"]))

    async def run(url: str) -> dict:
        tally = {"refused": 0, "refused_again": 0, "retries": 0}
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(timeout=300, limits=limits) as http:
            started = time.perf_counter()
            await asyncio.gather(*(client(http, url, tally) for _ in range(64)))
            tally["seconds"] = time.perf_counter() - started
        return tally

    rows = []
    for label, settings in (("default queue", {}), ("PESTO_QUEUE=8", {"PESTO_QUEUE": "8"})):
        with pesto_service("noop", state, 1, **settings) as pesto:
            tally = asyncio.run(run(f"{pesto}/api/v1/process"))
        again = tally["refused_again"] / tally["refused"] if tally["refused"] else 0.0
        print(f"Retry-After, 64 clients x 5 calls of 20 ms, {label}: {tally['refused']} 503s, "
              f"{tally['retries']} retries, {tally['refused_again']} refused again "
              f"({again:.0%}), all 320 served in {tally['seconds']:.1f} s "
              f"(ideal {320 * 0.02:.1f} s)")
        rows.append((f"Retry-After, {label}: share of retries refused again", again, "small"))
    return rows


def bench_tile(state: Path, rounds: int) -> list[tuple[str, float, str]]:
    tile = state / "tile.tif"
    write_tile(tile)
    raw = tile.read_bytes()
    encoded = base64.b64encode(raw).decode()
    octet = {"Content-Type": "application/octet-stream"}
    rows = []
    with bare_app() as bare, httpx.Client(timeout=120) as http:
        def baseline() -> None:
            assert len(http.post(f"{bare}/echo", content=raw, headers=octet).content) == len(raw)

        base = median_seconds(baseline, rounds)
        print(f"tile round trip (4x1024x1024 uint16, {len(raw) / 2**20:.1f} MiB): "
              f"raw echo {base * 1e3:.1f} ms")
        # Default settings (ZSTD outputs), then uncompressed outputs: the codec's share.
        for suffix, settings in (("", {}), (", outputs uncompressed",
                                            {"PESTO_OUTPUT_COMPRESSION": "none"})):
            with pesto_service("echo", state, 1, **settings) as pesto:
                calls = _tile_calls(http, pesto, raw, encoded, tile)
                for label, call, target in calls[: 3 if not suffix else 2]:
                    seconds = median_seconds(call, rounds)
                    print(f"  {label + suffix:36s} {seconds * 1e3:7.1f} ms  "
                          f"ratio {seconds / base:.2f}")
                    rows.append((f"tile round trip by {label}{suffix}", seconds / base, target))
    return rows


def _tile_calls(http: httpx.Client, pesto: str, raw: bytes, encoded: str, tile: Path) -> list:
    octet = {"Content-Type": "application/octet-stream"}

    def by_reference() -> None:
        out = http.post(f"{pesto}/api/v1/process", json={"image": tile.as_uri()})
        Path(urlparse(out.json()["image"]).path).read_bytes()

    def by_binary() -> None:
        out = http.post(f"{pesto}/api/v1/process", content=raw,
                        headers={**octet, "Accept": "image/tiff"})
        assert out.status_code == 200 and out.content[:2] in (b"II", b"MM"), out.text[:300]

    def by_base64() -> None:
        out = http.post(f"{pesto}/api/v1/process?outputs=inline", json={"image": encoded})
        base64.b64decode(out.json()["image"])

    return [("reference", by_reference, "<= 1.5"), ("binary body", by_binary, "<= 1.5"),
            ("base64", by_base64, "-")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=15, help="round trips per transport")
    parser.add_argument("--workers", type=int, default=1, help="PESTO_WORKERS of the service")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pesto-bench-") as tmp:
        state = Path(tmp)
        rows = (bench_noop(state, args.duration, args.workers) + bench_tile(state, args.rounds)
                + bench_retry_after(state))
    print("\n| measure | ratio (pesto / baseline) | target |\n|---|---|---|")
    for label, ratio, target in rows:
        print(f"| {label} | {ratio:.2f} | {target} |")


if __name__ == "__main__":
    main()
