"""The raster/tiling engine: run an algorithm over scenes too large for one call.

Concepts (each module's docstring says more):

- `windows`: a *window* is a pixel rectangle; a *tile* has a *core* (the pixels it is
  responsible for; cores cover the image exactly, without overlap) and a *read* window (the
  core grown by the *margin*, clipped at the image borders). A *grid* is the tiles of an image.
- `blocks`: a *block* is the pixels of a read window; pad it to a fixed size, crop it to a core.
- `filter`: `run_filter` applies `func(blocks) -> outputs` to every tile in worker processes
  sharing inputs and outputs through shared memory. For an operator of radius <= margin the
  result is bit for bit the whole-image result.
- `stats`: map/reduce over tiles: extrema, moments (Chan's merge), histograms, nodata aware.
- `io`: windowed reads of GeoTIFF/COG, lossless atomic writes, files-to-files filtering.
- `shared`: arrays in shared memory that workers map by name.
"""

from __future__ import annotations

from pesto_factory.runtime.raster.blocks import PadMode, crop_to_core, pad_block
from pesto_factory.runtime.raster.errors import (
    NotARasterError,
    RasterInputError,
    TileProcessingError,
    TilingError,
)
from pesto_factory.runtime.raster.filter import OutputSpec, run_filter
from pesto_factory.runtime.raster.io import (
    read_tile,
    read_window,
    run_filter_to_files,
    write_raster,
)
from pesto_factory.runtime.raster.shared import release, shared_empty
from pesto_factory.runtime.raster.sources import RasterInfo, raster_info
from pesto_factory.runtime.raster.stats import (
    BandStats,
    Extrema,
    Histogram,
    HistogramBins,
    Moments,
    band_stats,
    map_reduce,
)
from pesto_factory.runtime.raster.windows import (
    DEFAULT_MAX_TILE_PIXELS,
    Tile,
    TileGrid,
    Window,
    balanced_grid,
    plan_tiles,
    regular_grid,
)

__all__ = [
    # geometry
    "Window",
    "Tile",
    "TileGrid",
    "regular_grid",
    "balanced_grid",
    "plan_tiles",
    "DEFAULT_MAX_TILE_PIXELS",
    # blocks
    "PadMode",
    "pad_block",
    "crop_to_core",
    # tiled filter
    "OutputSpec",
    "run_filter",
    "shared_empty",
    "release",
    # map/reduce
    "map_reduce",
    "band_stats",
    "BandStats",
    "Extrema",
    "Moments",
    "Histogram",
    "HistogramBins",
    # files
    "RasterInfo",
    "raster_info",
    "read_window",
    "read_tile",
    "write_raster",
    "run_filter_to_files",
    # errors
    "TilingError",
    "RasterInputError",
    "NotARasterError",
    "TileProcessingError",
]
