"""Map/reduce over tiles: N images -> statistics, without holding a whole image in a worker.

Each tile is *mapped* to a small partial result, and partial results are *merged* into one.
A partial result is a mergeable value: `a.merge(b)` describes the pixels of a and b together.
Merging is done in tile order, not in the order tiles finish, so a run gives the same floats
every time.

The built-in partial results are:

- `Extrema`: minimum and maximum.
- `Moments`: count, mean and M2 (the sum of squared deviations from the mean). Two sets merge
  with the pairwise update of Chan, Golub and LeVeque (1979), which stays accurate where the
  textbook sum of squares loses digits; variance is M2 / (count - ddof).
- `Histogram`: counts over fixed `HistogramBins` (same bins everywhere, so counts just add).

*Nodata* pixels (equal to the image's nodata value) and NaNs are left out of every statistic.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from pesto_factory.runtime.raster._engine import (
    Job,
    execute,
    resolve_workers,
    share_inputs,
    shm_room,
)
from pesto_factory.runtime.raster.errors import TilingError
from pesto_factory.runtime.raster.shared import release
from pesto_factory.runtime.raster.sources import (
    LocalArray,
    RasterFile,
    Source,
    as_source,
    common_size,
)
from pesto_factory.runtime.raster.windows import DEFAULT_MAX_TILE_PIXELS, plan_tiles

__all__ = ["Extrema", "Moments", "HistogramBins", "Histogram", "BandStats", "map_reduce",
           "band_stats"]

T = TypeVar("T")


@dataclass(frozen=True)
class Extrema:
    """Smallest and largest valid value (None for no valid pixel)."""

    min: float | None = None
    max: float | None = None

    @classmethod
    def of(cls, values: np.ndarray) -> Extrema:
        if values.size == 0:
            return cls()
        return cls(values.min().item(), values.max().item())

    def merge(self, other: Extrema) -> Extrema:
        if self.min is None:
            return other
        if other.min is None:
            return self
        return Extrema(min(self.min, other.min), max(self.max, other.max))


@dataclass(frozen=True)
class Moments:
    """Count, mean and M2 of a set of values; merges exactly like the union of the sets."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0

    @classmethod
    def of(cls, values: np.ndarray) -> Moments:
        if values.size == 0:
            return cls()
        values = values.astype(np.float64, copy=False)
        mean = float(values.mean())
        return cls(int(values.size), mean, float(np.square(values - mean).sum()))

    def merge(self, other: Moments) -> Moments:
        count = self.count + other.count
        if count == 0:
            return Moments()
        delta = other.mean - self.mean
        mean = self.mean + delta * other.count / count
        m2 = self.m2 + other.m2 + delta * delta * self.count * other.count / count
        return Moments(count, mean, m2)

    def variance(self, ddof: int = 0) -> float:
        return self.m2 / (self.count - ddof) if self.count > ddof else math.nan

    def std(self, ddof: int = 0) -> float:
        return math.sqrt(self.variance(ddof))


@dataclass(frozen=True)
class HistogramBins:
    """`count` equal bins over [low, high]; values outside are not counted (as np.histogram)."""

    count: int
    low: float
    high: float

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise TilingError("HistogramBins.count", self.count, "a positive integer")
        if not self.high > self.low:
            raise TilingError("HistogramBins.high", self.high, f"> low ({self.low})")

    @property
    def edges(self) -> np.ndarray:
        return np.linspace(self.low, self.high, self.count + 1)


@dataclass(frozen=True, eq=False)
class Histogram:
    bins: HistogramBins
    counts: np.ndarray = field(repr=False)  # int64, one per bin

    @classmethod
    def of(cls, values: np.ndarray, bins: HistogramBins) -> Histogram:
        counts, _ = np.histogram(values, bins=bins.count, range=(bins.low, bins.high))
        return cls(bins, counts.astype(np.int64))

    def merge(self, other: Histogram) -> Histogram:
        return Histogram(self.bins, self.counts + other.counts)


@dataclass(frozen=True, eq=False)
class BandStats:
    """Statistics of one band: extrema, moments and, when bins were given, a histogram."""

    extrema: Extrema
    moments: Moments
    histogram: Histogram | None = None

    @property
    def count(self) -> int:
        return self.moments.count

    @property
    def min(self) -> float | None:
        return self.extrema.min

    @property
    def max(self) -> float | None:
        return self.extrema.max

    @property
    def mean(self) -> float:
        return self.moments.mean if self.moments.count else math.nan

    @property
    def std(self) -> float:
        return self.moments.std()

    def merge(self, other: BandStats) -> BandStats:
        histogram = (self.histogram.merge(other.histogram)
                     if self.histogram is not None and other.histogram is not None else None)
        return BandStats(self.extrema.merge(other.extrema), self.moments.merge(other.moments),
                         histogram)


def map_reduce(
    func: Callable[[list[np.ndarray]], T],
    inputs: Sequence[np.ndarray | str | os.PathLike],
    *,
    merge: Callable[[T, T], T] | None = None,
    tile_size: int | tuple[int, int] | None = None,
    workers: int | None = None,
    max_tile_pixels: int = DEFAULT_MAX_TILE_PIXELS,
    executor: Executor | None = None,
    start_method: str | None = None,
) -> T:
    """Map every tile's blocks (cores only, no margin) with `func`, merge the results in order.

    `merge(a, b)` defaults to `a.merge(b)`. `func` must be picklable (module level).
    """
    sources = tuple(as_source(value, position) for position, value in enumerate(inputs))
    height, width = common_size(list(sources))
    workers = resolve_workers(workers)
    grid = plan_tiles(height, width, margin=0, tile_size=tile_size, workers=workers,
                      max_tile_pixels=max_tile_pixels)
    parallel = (executor is not None or (workers > 1 and len(grid) > 1)) and shm_room(0, sources)
    copies: list[np.ndarray] = []
    try:
        job_sources = share_inputs(sources, copies) if parallel else sources
        results = execute(Job(func, job_sources, None), grid, workers=workers if parallel else 1,
                          executor=executor if parallel else None, start_method=start_method)
    finally:
        for array in copies:
            release(array)
    merge = merge or (lambda a, b: a.merge(b))
    return functools.reduce(merge, (results[tile.index] for tile in grid))


def _tile_stats(blocks: list[np.ndarray], *, nodata: tuple[float | None, ...],
                bins: HistogramBins | None) -> tuple[tuple[BandStats, ...], ...]:
    """Partial statistics of one tile: per input, per band."""
    per_input = []
    for block, missing in zip(blocks, nodata, strict=True):
        per_band = []
        for band in block:
            valid = np.ones(band.shape, bool) if missing is None or np.isnan(missing) \
                else band != missing
            if band.dtype.kind == "f":
                valid &= ~np.isnan(band)
            values = band[valid]
            per_band.append(BandStats(Extrema.of(values), Moments.of(values),
                                      Histogram.of(values, bins) if bins else None))
        per_input.append(tuple(per_band))
    return tuple(per_input)


def _merge_stats(a: tuple[tuple[BandStats, ...], ...],
                 b: tuple[tuple[BandStats, ...], ...]) -> tuple[tuple[BandStats, ...], ...]:
    return tuple(tuple(x.merge(y) for x, y in zip(xa, ya, strict=True))
                 for xa, ya in zip(a, b, strict=True))


def _nodata_of(sources: tuple[Source, ...], nodata: Any) -> tuple[float | None, ...]:
    if nodata is None:
        return tuple(s.info.nodata if isinstance(s, RasterFile) else None for s in sources)
    if isinstance(nodata, (int, float)):
        return (float(nodata),) * len(sources)
    values = tuple(None if v is None else float(v) for v in nodata)
    if len(values) != len(sources):
        raise TilingError("nodata", nodata, f"one value per input ({len(sources)})")
    return values


def band_stats(
    inputs: Sequence[np.ndarray | str | os.PathLike],
    *,
    nodata: float | Sequence[float | None] | None = None,
    bins: HistogramBins | None = None,
    tile_size: int | tuple[int, int] | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
    start_method: str | None = None,
) -> list[tuple[BandStats, ...]]:
    """Min/max, mean/std and optionally a histogram of every band of every input.

    `nodata`: one value for all inputs or one per input; by default a file's own nodata value
    (arrays have none). NaNs never count.
    """
    sources = [as_source(value, position) for position, value in enumerate(inputs)]
    missing = _nodata_of(tuple(sources), nodata)
    inputs = [s.array if isinstance(s, LocalArray) else s for s in sources]
    merged = map_reduce(functools.partial(_tile_stats, nodata=missing, bins=bins), inputs,
                        merge=_merge_stats, tile_size=tile_size, workers=workers,
                        executor=executor, start_method=start_method)
    return list(merged)
