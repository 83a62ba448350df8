"""The tiled filter: N input images -> M output images, tile by tile, in parallel.

An algorithm written for one block of pixels (`func(blocks) -> outputs`) runs over a scene of
any size: the scene is cut into tiles (see `windows`), each worker process reads a tile's read
window from every input, calls `func`, and writes the core of each output into output arrays
in shared memory. For an operator whose radius is at most `margin`, the result equals, pixel
for pixel, what `func` gives on the whole image.

`func` receives one read-only (bands, rows, cols) block per input and returns one array per
output (a (rows, cols) array counts as one band), either at the block's size (the engine crops
the core) or already at the core's size. With `pad`, every block has the grid's fixed block
shape with its core at (margin, margin), and an output may also have that shape less the margins
(the core at its top-left, as a fixed-size model returns it).
It runs in other processes, so it must be picklable: a module-level function, or a
`functools.partial` of one to pass parameters.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import DTypeLike
from pesto_factory.runtime.raster._engine import (
    Job,
    Padding,
    as_outputs,
    execute,
    resolve_workers,
    run_tile,
    share_inputs,
    shm_room,
    store,
    tile_errors,
)
from pesto_factory.runtime.raster.blocks import PadMode
from pesto_factory.runtime.raster.errors import TileProcessingError, TilingError
from pesto_factory.runtime.raster.shared import release, shared_empty, shared_spec
from pesto_factory.runtime.raster.sources import (
    LocalArray,
    SharedArray,
    Source,
    as_source,
    common_size,
)
from pesto_factory.runtime.raster.windows import (
    DEFAULT_MAX_TILE_PIXELS,
    Tile,
    TileGrid,
    Window,
    plan_tiles,
)

__all__ = ["OutputSpec", "run_filter"]

logger = logging.getLogger(__name__)

InputImage = np.ndarray | str | os.PathLike


@dataclass(frozen=True)
class OutputSpec:
    """One output image of a filter: its band count, data type and (for files) nodata value."""

    bands: int
    dtype: DTypeLike
    nodata: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.bands, bool) or not isinstance(self.bands, int) or self.bands < 1:
            raise TilingError("OutputSpec.bands", self.bands, "a positive integer")
        try:
            object.__setattr__(self, "dtype", np.dtype(self.dtype).str)
        except TypeError:
            raise TilingError("OutputSpec.dtype", self.dtype, "a NumPy dtype") from None


def _probe(func: Callable, sources: tuple[Source, ...], grid: TileGrid,
           padding: Padding | None) -> tuple[list[OutputSpec], Any | None]:
    """Learn the outputs' bands and dtypes by running `func` here.

    On a small corner block when blocks need no fixed size (its result is thrown away), else,
    or if the function refuses the small block, on the first tile (its result is kept: None
    means the first tile still has to be processed).
    """
    if padding is None:
        corner = Window(0, 0, min(16, grid.width), min(16, grid.height))
        small = Tile(0, corner, corner.expand(grid.margin).clip(grid.height, grid.width))
        job = Job(func, sources, None, None)
        try:
            _, result = run_tile(job, small)
            with tile_errors(job, small):
                outputs = as_outputs(result)
            return [OutputSpec(o.shape[0], o.dtype) for o in outputs], None
        except TileProcessingError:
            logger.debug("probe on a small block failed, probing with the first tile")
    job = Job(func, sources, None, padding)
    _, result = run_tile(job, grid[0])
    with tile_errors(job, grid[0]):
        outputs = as_outputs(result)
    return [OutputSpec(o.shape[0], o.dtype) for o in outputs], result


def run_filter(
    func: Callable[[list[np.ndarray]], Any],
    inputs: Sequence[InputImage],
    *,
    margin: int,
    tile_size: int | tuple[int, int] | None = None,
    workers: int | None = None,
    outputs: Sequence[OutputSpec] | None = None,
    pad: PadMode | None = None,
    cval: float = 0,
    max_tile_pixels: int = DEFAULT_MAX_TILE_PIXELS,
    executor: Executor | None = None,
    start_method: str | None = None,
) -> list[np.ndarray]:
    """Apply `func` to `inputs` tile by tile; returns the M output images (bands, rows, cols).

    - `inputs`: arrays (bands, rows, cols) or (rows, cols), or raster file paths, all of the
      same size. Files are read window by window inside the workers, never whole.
    - `margin`: context pixels around each tile; at least the radius of the operator.
    - `tile_size`: cut tiles of this size; by default nearly equal tiles, a multiple of
      `workers` of them, none over `max_tile_pixels`.
    - `workers`: processes (default: the CPUs available); 1 runs everything in this process.
    - `outputs`: bands and dtype of each output. When omitted, `func` is first run here on a
      small corner block (or on the first tile, with `pad`) to find them out.
    - `pad`: pad every block to the grid's fixed block shape with this mode (see `pad_block`);
      `func` then always gets blocks of the same size, core at (margin, margin).
    - `executor`: a process pool to reuse across calls (it must be a process pool); the
      default is a pool made for this call.

    With several workers the returned arrays live in shared memory (see `shared_empty`):
    passing them to another `run_filter` costs no copy.
    """
    sources = tuple(as_source(value, position) for position, value in enumerate(inputs))
    height, width = common_size(list(sources))
    workers = resolve_workers(workers)
    grid = plan_tiles(height, width, margin=margin, tile_size=tile_size, workers=workers,
                      max_tile_pixels=max_tile_pixels)
    padding = Padding(pad, cval, grid.margin, grid.block_shape) if pad is not None else None
    tiles, first = list(grid), None
    if outputs is None:
        outputs, first = _probe(func, sources, grid, padding)
        if first is not None:
            tiles = tiles[1:]
    specs = list(outputs)
    if not specs or not all(isinstance(s, OutputSpec) for s in specs):
        raise TilingError("outputs", outputs, "a non-empty list of OutputSpec")
    out_bytes = sum(s.bands * height * width * np.dtype(s.dtype).itemsize for s in specs)
    parallel = (executor is not None or (workers > 1 and len(tiles) > 1)) and \
        shm_room(out_bytes, sources)
    arrays: list[np.ndarray] = []
    copies: list[np.ndarray] = []
    try:
        for spec in specs:  # appended one by one: a failure releases those already made
            shape = (spec.bands, height, width)
            arrays.append(shared_empty(shape, spec.dtype) if parallel
                          else np.empty(shape, spec.dtype))
        if parallel:
            targets = tuple(SharedArray(shared_spec(a)) for a in arrays)
            job = Job(func, share_inputs(sources, copies), targets, padding)
        else:
            job = Job(func, sources, tuple(LocalArray(a) for a in arrays), padding)
        if first is not None:
            local = Job(func, sources, tuple(LocalArray(a) for a in arrays), padding)
            with tile_errors(local, grid[0]):
                store(local, grid[0], first)
        execute(job, tiles, workers=workers if parallel else 1,
                executor=executor if parallel else None,
                start_method=start_method)
    except BaseException:
        for array in arrays:
            release(array)  # no-op for arrays not in shared memory
        raise
    finally:
        for array in copies:
            release(array)
    logger.debug("filtered %d x %d pixels in %d tiles with %d workers",
                 height, width, len(grid), workers if parallel else 1)
    return arrays
