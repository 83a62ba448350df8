"""Tiling geometry: how an image too large for one call is cut into tiles.

- A *window* is a rectangle of pixels: column and row offset of its top-left pixel, width and
  height. Sizes are never negative; offsets may be (a window asked for partly outside an image
  is *clipped* to it).
- A *tile* is one unit of work. Its *core* is the part of the image it is responsible for: the
  cores of a grid do not overlap and cover the image exactly. Its *read* window is the core
  grown by the *margin* on every side and clipped at the image borders: the context a local
  operator needs so that its result on the core does not depend on where the image was cut.
  For any operator whose radius is at most the margin, processing the read window and keeping
  the core gives the same pixels as processing the whole image.
- A *grid* is the list of tiles of one image, in row-major order. `regular_grid` cuts tiles of
  a given size (the last row and column are smaller when the size does not divide the image);
  `balanced_grid` cuts a number of nearly equal tiles that is a multiple of the worker count,
  so no worker is left with one large tile while the others idle.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pesto_factory.runtime.raster.errors import TilingError

__all__ = [
    "Window",
    "Tile",
    "TileGrid",
    "regular_grid",
    "balanced_grid",
    "plan_tiles",
    "DEFAULT_MAX_TILE_PIXELS",
]

#: Largest tile `balanced_grid` cuts by default: bounds the memory an algorithm needs per tile.
DEFAULT_MAX_TILE_PIXELS = 4096 * 4096


def _as_int(argument: str, value: object) -> int:
    if isinstance(value, bool):
        raise TilingError(argument, value, "an integer")
    try:
        return operator.index(value)  # accepts numpy integers, refuses floats
    except TypeError:
        raise TilingError(argument, value, "an integer") from None


@dataclass(frozen=True)
class Window:
    """A rectangle of pixels; immutable, sizes checked when built."""

    col_off: int
    row_off: int
    width: int
    height: int

    def __post_init__(self) -> None:
        for name in ("col_off", "row_off", "width", "height"):
            object.__setattr__(self, name, _as_int(f"Window.{name}", getattr(self, name)))
        if self.width < 0:
            raise TilingError("Window.width", self.width, ">= 0")
        if self.height < 0:
            raise TilingError("Window.height", self.height, ">= 0")

    @property
    def row_stop(self) -> int:
        return self.row_off + self.height

    @property
    def col_stop(self) -> int:
        return self.col_off + self.width

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width), the order of a NumPy array's last two axes."""
        return self.height, self.width

    @property
    def slices(self) -> tuple[slice, slice]:
        """Row and column slices selecting this window from a (..., rows, cols) array."""
        return slice(self.row_off, self.row_stop), slice(self.col_off, self.col_stop)

    def expand(self, margin: int) -> Window:
        """The window grown by `margin` pixels on every side (not clipped)."""
        return Window(self.col_off - margin, self.row_off - margin,
                      self.width + 2 * margin, self.height + 2 * margin)

    def clip(self, height: int, width: int) -> Window:
        """The part of this window inside an image of `height` x `width` (may be empty)."""
        row0, col0 = max(self.row_off, 0), max(self.col_off, 0)
        row1, col1 = min(self.row_stop, height), min(self.col_stop, width)
        return Window(col0, row0, max(col1 - col0, 0), max(row1 - row0, 0))

    def relative_to(self, outer: Window) -> Window:
        """This window in the pixel coordinates of `outer` (e.g. a core inside its read window)."""
        return Window(self.col_off - outer.col_off, self.row_off - outer.row_off,
                      self.width, self.height)

    def as_dict(self) -> dict[str, int]:
        """The JSON `Window` data type (schemas/definitions.json): what tile results carry."""
        return {"col_off": self.col_off, "row_off": self.row_off,
                "width": self.width, "height": self.height}

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Window:
        """A window from the JSON `Window` data type {col_off, row_off, width, height}."""
        try:
            return cls(value["col_off"], value["row_off"], value["width"], value["height"])
        except (KeyError, TypeError):
            raise TilingError("window", value,
                              "an object with col_off, row_off, width and height") from None

    def intersects(self, other: Window) -> bool:
        """Whether the two windows share at least one pixel."""
        return (self.row_off < other.row_stop and other.row_off < self.row_stop
                and self.col_off < other.col_stop and other.col_off < self.col_stop)

    def to_rasterio(self):
        """The same window as a `rasterio.windows.Window`."""
        from rasterio.windows import Window as RioWindow

        return RioWindow(self.col_off, self.row_off, self.width, self.height)


@dataclass(frozen=True)
class Tile:
    """One unit of work: its index in the grid, its core window and its read window."""

    index: int
    core: Window
    read: Window

    @property
    def core_in_read(self) -> Window:
        """Where the core sits inside a block read with the read window."""
        return self.core.relative_to(self.read)

    @property
    def margins(self) -> tuple[int, int, int, int]:
        """Context actually read around the core: (top, left, bottom, right), as in GeoImage."""
        inner = self.core_in_read
        return (inner.row_off, inner.col_off,
                self.read.height - inner.row_stop, self.read.width - inner.col_stop)


@dataclass(frozen=True)
class TileGrid:
    """The tiles of one image, row-major, with the geometry they were cut with."""

    height: int
    width: int
    margin: int
    tile_shape: tuple[int, int]  # largest core (height, width); edge cores may be smaller
    tiles: tuple[Tile, ...]

    def __len__(self) -> int:
        return len(self.tiles)

    def __iter__(self) -> Iterator[Tile]:
        return iter(self.tiles)

    def __getitem__(self, index: int) -> Tile:
        return self.tiles[index]

    @property
    def block_shape(self) -> tuple[int, int]:
        """Fixed (height, width) that every read block fits in: what `pad_block` pads to."""
        return self.tile_shape[0] + 2 * self.margin, self.tile_shape[1] + 2 * self.margin


def _check_image(height: object, width: object, margin: object) -> tuple[int, int, int]:
    height, width = _as_int("height", height), _as_int("width", width)
    margin = _as_int("margin", margin)
    if height <= 0:
        raise TilingError("height", height, "> 0 (the image is empty)")
    if width <= 0:
        raise TilingError("width", width, "> 0 (the image is empty)")
    if margin < 0:
        raise TilingError("margin", margin, ">= 0")
    return height, width, margin


def _grid(height: int, width: int, margin: int,
          row_edges: list[int], col_edges: list[int]) -> TileGrid:
    tiles = []
    for r0, r1 in zip(row_edges[:-1], row_edges[1:], strict=True):
        for c0, c1 in zip(col_edges[:-1], col_edges[1:], strict=True):
            core = Window(c0, r0, c1 - c0, r1 - r0)
            tiles.append(Tile(len(tiles), core, core.expand(margin).clip(height, width)))
    tile_shape = (max(b - a for a, b in zip(row_edges[:-1], row_edges[1:], strict=True)),
                  max(b - a for a, b in zip(col_edges[:-1], col_edges[1:], strict=True)))
    return TileGrid(height, width, margin, tile_shape, tuple(tiles))


def regular_grid(height: int, width: int, *, tile_size: int | tuple[int, int],
                 margin: int = 0) -> TileGrid:
    """Tiles of `tile_size` (square, or (rows, cols)); the last row/column holds the rest."""
    height, width, margin = _check_image(height, width, margin)
    sizes = tile_size if isinstance(tile_size, tuple) else (tile_size, tile_size)
    if len(sizes) != 2:
        raise TilingError("tile_size", tile_size, "an integer or a (rows, cols) pair")
    tile_rows, tile_cols = (_as_int("tile_size", s) for s in sizes)
    for size in (tile_rows, tile_cols):
        if size <= 0:
            raise TilingError("tile_size", tile_size, "> 0")
    row_edges = [*range(0, height, tile_rows), height]
    col_edges = [*range(0, width, tile_cols), width]
    return _grid(height, width, margin, row_edges, col_edges)


def _even_edges(size: int, parts: int) -> list[int]:
    """Cut points of `size` into `parts` pieces whose lengths differ by at most one."""
    base, extra = divmod(size, parts)
    edges = [0]
    for i in range(parts):
        edges.append(edges[-1] + base + (1 if i < extra else 0))
    return edges


def _best_split(height: int, width: int, count: int) -> tuple[int, int] | None:
    """(rows, cols) with rows * cols == count whose tiles are closest to square."""
    best, best_score = None, math.inf
    for rows in range(1, count + 1):
        if count % rows:
            continue
        cols = count // rows
        if rows > height or cols > width:
            continue
        score = abs(math.log((height / rows) / (width / cols)))
        if score < best_score:
            best, best_score = (rows, cols), score
    return best


def balanced_grid(height: int, width: int, *, workers: int, margin: int = 0,
                  max_tile_pixels: int = DEFAULT_MAX_TILE_PIXELS) -> TileGrid:
    """Nearly equal tiles, as many as a multiple of `workers`, none over `max_tile_pixels`.

    Equal tiles keep every worker busy until the end: cutting tiles of a fixed size and giving
    the small leftovers to some workers is what leaves the others idle.
    """
    height, width, margin = _check_image(height, width, margin)
    workers = _as_int("workers", workers)
    if workers <= 0:
        raise TilingError("workers", workers, "> 0")
    max_tile_pixels = _as_int("max_tile_pixels", max_tile_pixels)
    if max_tile_pixels <= 0:
        raise TilingError("max_tile_pixels", max_tile_pixels, "> 0")
    needed = max(math.ceil(height * width / max_tile_pixels), 1)
    count = min(math.ceil(needed / workers) * workers, height * width)
    candidates = [c for c in range(count, min(2 * count, height * width) + 1) if c % workers == 0]
    best: tuple[float, tuple[int, int]] | None = None
    # A count with a poor factorisation (a prime cuts strips) may lose to a slightly larger one.
    for candidate in candidates or [count]:
        split = _best_split(height, width, candidate)
        if split is None:
            continue
        rows, cols = split
        score = abs(math.log((height / rows) / (width / cols)))
        if best is None or score < best[0] - 1e-9:
            best = (score, split)
        if score <= math.log(1.5) + 1e-9:
            break
    rows, cols = best[1] if best else (height, 1)
    return _grid(height, width, margin, _even_edges(height, rows), _even_edges(width, cols))


def plan_tiles(height: int, width: int, *, margin: int = 0,
               tile_size: int | tuple[int, int] | None = None, workers: int = 1,
               max_tile_pixels: int = DEFAULT_MAX_TILE_PIXELS) -> TileGrid:
    """The grid the engine uses: `regular_grid` when a tile size is asked, else balanced."""
    if tile_size is not None:
        return regular_grid(height, width, tile_size=tile_size, margin=margin)
    return balanced_grid(height, width, workers=workers, margin=margin,
                         max_tile_pixels=max_tile_pixels)
