"""Errors of the raster engine.

Each is a `pesto_factory.runtime.errors.PestoError`, so the web layer maps it to an HTTP status and the
packager prints its message. The ones caused by a bad argument or input are also `ValueError`s,
so plain Python callers can catch them the usual way. They carry the offending value in fields,
never only in their text.
"""

from __future__ import annotations

from typing import Any

from pesto_factory.runtime.errors import AlgorithmFailed, BadRequest, UnprocessableInput

__all__ = ["TilingError", "RasterInputError", "NotARasterError", "TileProcessingError"]


class TilingError(BadRequest, ValueError):
    """A tiling argument is out of range (tile size, margin, image size, window)."""

    def __init__(self, argument: str, value: Any, requirement: str) -> None:
        super().__init__(f"{argument} must be {requirement}, got {value!r}")
        self.argument = argument
        self.value = value


class RasterInputError(UnprocessableInput, ValueError):
    """The images given to the engine cannot be used together or at all."""

    def __init__(self, message: str, *, source: str | None = None, hint: str | None = None) -> None:
        super().__init__(f"{source}: {message}" if source else message, hint=hint)
        self.source = source


class NotARasterError(RasterInputError):
    """A path that GDAL cannot open as a raster (missing, or not an image)."""


class TileProcessingError(AlgorithmFailed):
    """The algorithm raised on one tile; names the tile so the failure can be reproduced."""

    def __init__(self, message: str, *, tile_index: int, core: Any = None, read: Any = None) -> None:
        super().__init__(message)
        self.tile_index = tile_index
        self.core = core
        self.read = read
