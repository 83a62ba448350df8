"""Running a function over tiles, in this process or in a pool of worker processes.

A *job* is what every tile of one call shares: the function, its sources, where its outputs go
(or nothing, for a map/reduce job whose function returns a partial result) and the padding
asked for. A *task* is (job, tile); it is all that is pickled to a worker. The worker reads the
tile's blocks from the sources, calls the function and writes the cores of its outputs straight
into the shared output arrays, so no pixels travel back. Tiles may finish in any order: each
writes only its own core, and cores never overlap.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import pickle
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pesto_factory.runtime.raster.blocks import PadMode, crop_to_core, pad_block
from pesto_factory.runtime.raster.errors import TileProcessingError, TilingError
from pesto_factory.runtime.raster.shared import SHM_DIR, share, shared_spec, shm_available
from pesto_factory.runtime.raster.sources import LocalArray, SharedArray, Source
from pesto_factory.runtime.raster.windows import Tile

__all__ = ["Padding", "Job", "read_blocks", "as_outputs", "store", "tile_errors", "run_tile",
           "execute", "resolve_workers", "mp_context", "shm_room", "share_inputs"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Padding:
    """Pad every block to `shape` (the grid's block shape) with its core at (margin, margin)."""

    mode: PadMode
    cval: float
    margin: int
    shape: tuple[int, int]


@dataclass(frozen=True)
class Job:
    func: Callable[[list[np.ndarray]], Any]
    sources: tuple[Source, ...]
    targets: tuple[LocalArray | SharedArray, ...] | None  # None: return func's result
    padding: Padding | None = None


class _BadOutput(Exception):
    """An output of the function does not fit its declared shape or dtype."""


def read_blocks(job: Job, tile: Tile) -> list[np.ndarray]:
    """The tile's read-only blocks, padded when the job asks for it."""
    blocks = []
    for source in job.sources:
        block = source.read(tile.read)
        if job.padding is not None:
            pad = job.padding
            block = pad_block(block, tile, margin=pad.margin, shape=pad.shape, mode=pad.mode,
                              cval=pad.cval)
        block.flags.writeable = False  # blocks overlap their neighbours' cores
        blocks.append(block)
    return blocks


def as_outputs(result: Any) -> list[np.ndarray]:
    """The function's outputs as (bands, rows, cols) arrays; a lone array means one output."""
    if isinstance(result, np.ndarray):
        result = [result]
    if not isinstance(result, (list, tuple)):
        raise _BadOutput(f"the function must return a list of arrays, got {type(result).__name__}")
    outputs = []
    for position, output in enumerate(result):
        output = np.asarray(output)
        if output.ndim == 2:
            output = output[np.newaxis]
        if output.ndim != 3:
            raise _BadOutput(f"output {position} must be (bands, rows, cols), got {output.shape}")
        outputs.append(output)
    return outputs


def core_of(output: np.ndarray, job: Job, tile: Tile, position: int) -> np.ndarray:
    """The core of one output, given either at the block's size or already at the core's."""
    rows_cols = output.shape[1:]
    if rows_cols == tile.core.shape:
        return output
    if job.padding is not None:
        pad = job.padding
        if rows_cols == pad.shape:
            return crop_to_core(output, tile, padded_margin=pad.margin)
        if rows_cols == (pad.shape[0] - 2 * pad.margin, pad.shape[1] - 2 * pad.margin):
            return output[:, :tile.core.height, :tile.core.width]  # fixed size, core top-left
    if job.padding is None and rows_cols == tile.read.shape:
        return crop_to_core(output, tile)
    sizes = [tile.read.shape]
    if job.padding is not None:
        pad = job.padding
        sizes = [pad.shape, (pad.shape[0] - 2 * pad.margin, pad.shape[1] - 2 * pad.margin)]
    expected = " or ".join(f"{h} x {w}" for h, w in [*sizes, tile.core.shape])
    raise _BadOutput(f"output {position} has {rows_cols[0]} x {rows_cols[1]} pixels; expected "
                     f"{expected} (block, {'tile, ' if job.padding else ''}core)")


def store(job: Job, tile: Tile, result: Any) -> None:
    """Write the cores of the function's outputs into the job's targets."""
    assert job.targets is not None
    outputs = as_outputs(result)
    if len(outputs) != len(job.targets):
        raise _BadOutput(f"the function returned {len(outputs)} outputs, "
                         f"{len(job.targets)} were declared")
    for position, (output, target) in enumerate(zip(outputs, job.targets, strict=True)):
        core = core_of(output, job, tile, position)
        destination = target.target()
        if core.shape[0] != destination.shape[0]:
            raise _BadOutput(f"output {position} has {core.shape[0]} bands, "
                             f"{destination.shape[0]} were declared")
        try:
            np.copyto(destination[(slice(None), *tile.core.slices)], core, casting="same_kind")
        except TypeError as exc:
            raise _BadOutput(f"output {position}: {exc}") from None


@contextmanager
def tile_errors(job: Job, tile: Tile) -> Iterator[None]:
    """Turn any failure while handling `tile` into a `TileProcessingError` naming it."""
    try:
        yield
    except TileProcessingError:
        raise
    except Exception as exc:
        func = getattr(job.func, "func", job.func)  # name the function behind a partial
        name = getattr(func, "__name__", type(func).__name__)
        cause = str(exc) if isinstance(exc, _BadOutput) else f"{type(exc).__name__}: {exc}"
        raise TileProcessingError(
            f"{name} failed on tile {tile.index} (core {_window_text(tile.core)}, "
            f"read {_window_text(tile.read)}): {cause}",
            tile_index=tile.index, core=tile.core, read=tile.read) from exc


def run_tile(job: Job, tile: Tile) -> tuple[int, Any]:
    """Process one tile: its outputs go to the job's targets, or its result is returned."""
    with tile_errors(job, tile):
        result = job.func(read_blocks(job, tile))
        if job.targets is None:
            return tile.index, result
        store(job, tile, result)
    return tile.index, None


def _window_text(window) -> str:
    return (f"rows {window.row_off}:{window.row_stop}, "
            f"cols {window.col_off}:{window.col_stop}")


def shm_room(extra_bytes: int, sources: tuple[Source, ...]) -> bool:
    """Whether shared memory can hold `extra_bytes` of outputs and the inputs not yet shared."""
    needed = extra_bytes + sum(s.array.nbytes for s in sources
                               if isinstance(s, LocalArray) and shared_spec(s.array) is None)
    available = shm_available() if os.path.isdir(SHM_DIR) else 0
    if needed > 0.9 * available:
        logger.warning(
            "shared memory too small for a parallel run (%.0f MB needed, %.0f MB free in %s): "
            "running in one process; give the container a larger /dev/shm (--shm-size)",
            needed / 1e6, available / 1e6, SHM_DIR)
        return False
    return True


def share_inputs(sources: tuple[Source, ...], copies: list[np.ndarray]) -> tuple[Source, ...]:
    """Sources a worker can open: local arrays go to shared memory (copies listed in `copies`)."""
    shared: list[Source] = []
    for source in sources:
        if isinstance(source, LocalArray):
            array, spec = share(source.array)
            if array is not source.array:
                copies.append(array)
            shared.append(SharedArray(spec))
        else:
            shared.append(source)
    return tuple(shared)


def _cgroup_cpus() -> float | None:
    """CPUs allowed by a container's CPU quota (cgroup v2 or v1), None when unlimited."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None


def resolve_workers(workers: int | None) -> int:
    """`workers`, or the CPUs this process may use (affinity and container quota)."""
    if workers is None:
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cpus = os.cpu_count() or 1
        quota = _cgroup_cpus()
        if quota is not None:
            cpus = min(cpus, math.ceil(quota))
        return max(cpus, 1)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise TilingError("workers", workers, "a positive integer or None")
    return workers


def mp_context(start_method: str | None):
    """A multiprocessing context: fork when this process runs one thread, else forkserver.

    Forking is fastest, but forking a process with other threads running can deadlock the
    child on a lock held by one of them; a forkserver avoids that at ~0.5 s per new pool.
    """
    methods = multiprocessing.get_all_start_methods()
    if start_method is None:
        if "fork" in methods and threading.active_count() == 1:
            start_method = "fork"
        else:
            start_method = "forkserver" if "forkserver" in methods else "spawn"
    context = multiprocessing.get_context(start_method)
    if start_method == "forkserver":
        context.set_forkserver_preload(["__main__", "numpy", "pesto_factory.runtime.raster._engine"])
    return context


def execute(job: Job, tiles: Iterable[Tile], *, workers: int, executor: Executor | None = None,
            start_method: str | None = None) -> dict[int, Any]:
    """Run every tile of a job; returns {tile index: result}. Blocks until all are done.

    On the first failure the tiles not started are cancelled and the running ones waited for
    (they may still be writing into shared memory the caller is about to remove).
    """
    tiles = list(tiles)
    if not tiles:
        return {}
    if executor is None and (workers <= 1 or len(tiles) == 1):
        return dict(run_tile(job, tile) for tile in tiles)
    try:
        pickle.dumps(job.func)
    except Exception as exc:
        raise TilingError("func", job.func, "picklable to run in worker processes: a module-level "
                          "function, or a functools.partial of one") from exc
    pool = executor or ProcessPoolExecutor(max_workers=min(workers, len(tiles)),
                                           mp_context=mp_context(start_method))
    futures = {}
    try:
        for tile in tiles:
            futures[pool.submit(run_tile, job, tile)] = tile
        results: dict[int, Any] = {}
        for future in as_completed(futures):
            try:
                index, value = future.result()
            except BrokenProcessPool as exc:
                tile = futures[future]
                raise TileProcessingError(
                    f"a worker process died while processing tile {tile.index} "
                    "(killed, out of memory, or crashed in native code)",
                    tile_index=tile.index, core=tile.core, read=tile.read) from exc
            results[index] = value
        return results
    except BaseException:
        for future in futures:
            future.cancel()
        wait(futures)
        raise
    finally:
        if executor is None:
            pool.shutdown(wait=True, cancel_futures=True)
