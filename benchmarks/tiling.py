"""Benchmark of the tiling engine (pesto_factory.runtime.raster) against EOScale and one-process NumPy.

One run generates a uint16 band (default 10980 x 10980, a Sentinel-2 10 m tile) as a tiled
GeoTIFF (512 x 512 blocks, deflate, horizontal predictor) in a temporary folder, then measures,
each variant in a fresh child process so that memory figures do not mix:

  (a) our tiled filter vs EOScale running the same filter: scipy.ndimage.uniform_filter
      size 5, margin 2, 2 workers, from the file to the filtered image in memory;
  (b) ours vs one process decoding the whole file and filtering the whole image;
  (c) tiling + margin extraction (every tile's read window read from the file, its core
      placed in the output) vs one full decode of the file;
  (d) peak memory as PSS (proportional set size, so shared memory is counted once), summed
      over the measured process and its children, sampled by a thread every 20 ms in a
      separate, untimed run (sampling slows the sampled process down).

Targets: (a) >= 1.3x faster than EOScale, (d) <= 0.7x its peak PSS, (c) within 1.2x of a
full decode. Every output is checked equal (bit for bit) to the one-process result. Each
variant runs --repeat times (default 5), all variants in turn per round; ratios use the best
time of each (as timeit does: other work on a shared machine only ever adds time), and the
spread of the per-round ratios is printed beside them.

    python benchmarks/tiling.py               # the full 10980 x 10980 run
    python benchmarks/tiling.py --size 3000   # a quick run

EOScale is only needed here: `pip install --no-deps eoscale` (plus tqdm and laspy, which it
imports). Without it, (a) and (d) are skipped with a message.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

# This script's folder comes first on sys.path and holds a runtime.py of its own: put the
# repository first so that `runtime` is the package.
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MARGIN = 2
SIZE = 5


def uniform5(blocks: list[np.ndarray]) -> list[np.ndarray]:
    """The filter under test, in the engine's convention."""
    from scipy import ndimage

    return [ndimage.uniform_filter(blocks[0], size=(1, SIZE, SIZE))]


def eoscale_uniform5(input_buffers: list, input_profiles: list, params: dict) -> list:
    """The same filter in EOScale's convention."""
    from scipy import ndimage

    return [ndimage.uniform_filter(input_buffers[0], size=(1, SIZE, SIZE))]


def keep_block(blocks: list[np.ndarray]) -> list[np.ndarray]:
    """No processing: measures tiling, windowed reads with margins and core placement only."""
    return [blocks[0]]


# --- variants, run in a child process ----------------------------------------------------
# Each yields its result while the memory holding it is still alive: the time is taken at the
# yield; checking the result and cleaning up afterwards are not timed.

def run_decode(path: str, workers: int) -> Iterator[np.ndarray]:
    import rasterio

    with rasterio.open(path) as dataset:
        yield dataset.read()


def run_single(path: str, workers: int) -> Iterator[np.ndarray]:
    import rasterio

    with rasterio.open(path) as dataset:
        data = dataset.read()
    yield uniform5([data])[0]


def run_ours(path: str, workers: int) -> Iterator[np.ndarray]:
    from pesto_factory.runtime.raster import run_filter

    yield run_filter(uniform5, [path], margin=MARGIN, workers=workers)[0]


def run_tiling(path: str, workers: int) -> Iterator[np.ndarray]:
    from pesto_factory.runtime.raster import run_filter

    yield run_filter(keep_block, [path], margin=MARGIN, workers=workers)[0]


def run_tiling_one(path: str, workers: int) -> Iterator[np.ndarray]:
    return run_tiling(path, 1)


def run_ours_to_file(path: str, workers: int) -> Iterator[Path]:
    from pesto_factory.runtime.raster import run_filter_to_files

    out = Path(path).with_name("smoothed.tif")
    yield run_filter_to_files(uniform5, [path], [out], margin=MARGIN, workers=workers)[0]
    out.unlink()


def run_eoscale(path: str, workers: int) -> Iterator[np.ndarray]:
    from eoscale.eo_executors import n_images_to_m_images_filter
    from eoscale.manager import EOContextManager

    with EOContextManager(nb_workers=workers, tile_mode=True) as context:
        key = context.open_raster(raster_path=path)
        [out_key] = n_images_to_m_images_filter(
            inputs=[key], image_filter=eoscale_uniform5, filter_parameters={},
            stable_margin=MARGIN, context_manager=context, filter_desc="eoscale uniform")
        yield context.get_array(out_key)


VARIANTS: dict[str, tuple[str, Callable[[str, int], Iterator[np.ndarray | Path]]]] = {
    "decode": ("one full decode of the file (1 process)", run_decode),
    "tiling": ("tiling + margin extraction, {w} workers", run_tiling),
    "tiling-1": ("tiling + margin extraction, 1 process", run_tiling_one),
    "single": ("decode + uniform_filter, whole image, 1 process", run_single),
    "ours": ("ours: run_filter from the file, {w} workers", run_ours),
    "eoscale": ("EOScale: open_raster + n_images_to_m_images_filter, {w} workers", run_eoscale),
    "ours-file": ("ours, file to a GeoTIFF file (deflate), {w} workers", run_ours_to_file),
}


class PssSampler(threading.Thread):
    """Peak PSS of a process plus all its descendants, sampled every `interval` seconds.

    It runs in the benchmark's parent process: a thread in the measured process would itself
    change what is measured (the engine forks only from a single-threaded process).
    """

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._done = threading.Event()

    def sample(self) -> int:
        import psutil

        try:
            root = psutil.Process(self.pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0
        total = 0
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied,
                                     psutil.ZombieProcess):
                total += process.memory_full_info().pss
        return total

    def run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, self.sample())
            self._done.wait(self.interval)

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


def measure(name: str, path: str, workers: int) -> dict:
    """Run one variant here and return its figures (called in a fresh child process)."""
    import pesto_factory.runtime.raster  # noqa: F401
    import rasterio  # imported before timing, as a service would have them
    import scipy.ndimage  # noqa: F401

    if name == "eoscale":
        import eoscale.eo_executors  # noqa: F401
    variant = VARIANTS[name][1](path, workers)
    started = time.perf_counter()
    result = next(variant)
    seconds = time.perf_counter() - started
    if isinstance(result, Path):
        with rasterio.open(result) as dataset:
            result = dataset.read()
    digest = hashlib.blake2b(np.ascontiguousarray(result).data, digest_size=16).hexdigest()
    figures = {"seconds": seconds, "digest": digest, "shape": list(result.shape),
               "dtype": str(result.dtype)}
    del result
    variant.close()
    return figures


def run_child(name: str, path: Path, workers: int, *, sample_memory: bool) -> dict:
    """Run a variant in a fresh process; with `sample_memory`, sample its PSS from here.

    Timed runs are not sampled: reading /proc/PID/smaps_rollup walks the process's memory map
    under its mmap lock and slows the measured process down (GDAL's threads most).
    """
    command = [sys.executable, __file__, "--measure", name, "--path", str(path),
               "--workers", str(workers)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        sampler = PssSampler(child.pid) if sample_memory else None
        if sampler:
            sampler.start()
        code = child.wait(timeout=1800)
        peak = sampler.stop() if sampler else None
        out.seek(0)
        err.seek(0)
        lines = [line for line in out.read().splitlines() if line.startswith("{")]
        if code != 0 or not lines:
            raise RuntimeError(f"variant {name} failed:\n{err.read()[-3000:]}")
    return {**json.loads(lines[-1]), "peak_pss": peak}


# --- the scene --------------------------------------------------------------------------

def generate(path: Path, size: int) -> None:
    """A smooth field plus noise: compresses like a real band, unlike pure noise. Written by
    the runtime's one writer as tiled GTiff, DEFLATE (GDAL's default effort) + predictor."""
    from pesto_factory.runtime.imageio import write_geotiff
    from rasterio.transform import from_origin

    rng = np.random.default_rng(42)
    cols = (1500 * np.sin(np.linspace(0, 30, size))).astype(np.int32)
    scene = np.empty((1, size, size), np.uint16)
    for row in range(0, size, 1024):
        rows = min(1024, size - row)
        trend = (1200 * np.cos(np.linspace(row, row + rows, rows) * 20 / size))[:, None]
        noise = rng.integers(-50, 50, size=(rows, size), dtype=np.int32)
        scene[0, row:row + rows] = np.clip(3000 + trend.astype(np.int32) + cols[None, :] + noise,
                                           1, 65535)
    write_geotiff(path, scene, crs="EPSG:32631", transform=from_origin(600000, 5000040, 10, 10),
                  nodata=0, driver="GTiff", codec="deflate", level=6, predictor=2)


# --- the report -------------------------------------------------------------------------

def verdict(ratio: float, target: float, higher_is_better: bool) -> str:
    met = ratio >= target if higher_is_better else ratio <= target
    return "MET" if met else "NOT MET"


def _paired(results: dict[str, dict], numerator: str, denominator: str) -> str:
    """Spread of the ratio over the rounds (each round ran every variant once, in turn)."""
    ratios = [a / b for a, b in zip(results[numerator]["rounds"],
                                    results[denominator]["rounds"], strict=True)]
    low, high, middle = min(ratios), max(ratios), statistics.median(ratios)
    return f"per round {low:.2f}-{high:.2f}x, median {middle:.2f}x"


def report(results: dict[str, dict], workers: int, size: int, eoscale: bool) -> list[str]:
    lines = [f"scene {size} x {size} uint16, tiled 512 x 512, deflate + predictor 2; "
             f"uniform_filter size {SIZE}, margin {MARGIN}; {os.cpu_count()} CPUs", "",
             f"{'variant':<64} {'best s':>7} {'median s':>8} {'peak PSS GB':>11}  same",
             "-" * 104]
    for name, figures in results.items():
        label = VARIANTS[name][0].format(w=workers)
        reference = results["decode" if name.startswith(("decode", "tiling")) else "single"]
        same = "yes" if figures["digest"] == reference["digest"] else "NO"
        median = statistics.median(figures["rounds"])
        lines.append(f"{label:<64} {figures['seconds']:>7.2f} {median:>8.2f} "
                     f"{figures['peak_pss'] / 1e9:>11.2f}  {same}")
    lines.append("")
    if size < 10980:
        lines.append(f"note: the targets are set for 10980 x 10980; at {size} x {size} fixed "
                     "costs (process start, first page faults) weigh more")
    seconds = {name: figures["seconds"] for name, figures in results.items()}
    if eoscale:
        speed = seconds["eoscale"] / seconds["ours"]
        memory = results["ours"]["peak_pss"] / results["eoscale"]["peak_pss"]
        lines.append(f"(a) EOScale time / ours            {speed:6.2f}x   target >= 1.3x  "
                     f"{verdict(speed, 1.3, True):<8} ({_paired(results, 'eoscale', 'ours')})")
    else:
        lines.append("(a) skipped: eoscale is not importable "
                     "(pip install --no-deps eoscale; pip install tqdm laspy)")
    lines.append(f"(b) one process time / ours        {seconds['single'] / seconds['ours']:6.2f}x"
                 f"   no target                ({_paired(results, 'single', 'ours')})")
    tiling = seconds["tiling"] / seconds["decode"]
    lines.append(f"(c) tiling time / full decode      {tiling:6.2f}x   target <= 1.2x  "
                 f"{verdict(tiling, 1.2, False):<8} ({_paired(results, 'tiling', 'decode')}; "
                 f"1 process: {seconds['tiling-1'] / seconds['decode']:.2f}x)")
    if eoscale:
        lines.append(f"(d) ours peak PSS / EOScale's      {memory:6.2f}x   target <= 0.7x  "
                     f"{verdict(memory, 0.7, False)}")
    else:
        lines.append("(d) skipped: eoscale is not importable")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10980, help="scene side in pixels")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5,
                        help="timed runs per variant (ratios use the best); memory is sampled "
                             "in one more run of each")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.path, args.workers)))
        return 0
    load_start = os.getloadavg()[0]
    eoscale = importlib.util.find_spec("eoscale") is not None
    names = [n for n in VARIANTS if eoscale or n != "eoscale"]
    with tempfile.TemporaryDirectory(prefix="tiling-bench-") as folder:
        path = Path(folder) / "band.tif"
        started = time.perf_counter()
        generate(path, args.size)
        print(f"generated {path.name}: {path.stat().st_size / 1e6:.0f} MB in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        runs: dict[str, list[dict]] = {name: [] for name in names}
        peaks: dict[str, int] = {}
        for _ in range(args.repeat):
            for name in names:  # interleaved, so that drifts hit every variant alike
                runs[name].append(run_child(name, path, args.workers, sample_memory=False))
        for name in names:
            peaks[name] = run_child(name, path, args.workers, sample_memory=True)["peak_pss"]
    results = {}
    for name, figures in runs.items():
        digests = {f["digest"] for f in figures}
        # Best of the runs, as timeit does: other work on the machine only ever adds time.
        results[name] = {"seconds": min(f["seconds"] for f in figures),
                         "rounds": [f["seconds"] for f in figures],
                         "peak_pss": peaks[name],
                         "digest": digests.pop() if len(digests) == 1 else "differs between runs"}
    for line in report(results, args.workers, args.size, eoscale):
        print(line)
    print(f"load average (1 min) at start {load_start:.1f}, at end {os.getloadavg()[0]:.1f}: "
          "other work on the machine slows the runs and widens the spreads")
    return 0


if __name__ == "__main__":
    sys.exit(main())
