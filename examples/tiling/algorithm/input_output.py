"""Typed input and output of the tiling service (read by `packager schemagen`)."""

from __future__ import annotations

from typing import Annotated, Any

from pesto_factory.packager.types import FOREIGN_REF, ImageRefs
from pydantic import BaseModel, ConfigDict, Field

_SCENE = {
    "anyOf": [{"$ref": FOREIGN_REF + "Image"}, {"$ref": FOREIGN_REF + "ImageRef"}],
    # The runtime gives the algorithm the scene's header (size, georeferencing), no pixels.
    "x-pesto-read": "header",
}


class Input(BaseModel):
    """A scene to cut into tiles, the tiles' size and their stability margin."""

    model_config = ConfigDict(extra="forbid")

    scene: str | dict[str, Any] = Field(
        json_schema_extra=_SCENE,
        description="The scene to cut: the URI of a raster (a COG on storage every service "
                    "reads), or an ImageRef to it (its bands go with every tile). Only its "
                    "header is read.")
    tile_size: int = Field(1024, ge=1, description="Side of a tile's core, in pixels")
    margin: int = Field(40, ge=0, description="Stability margin read around each core, in pixels")


class Output(BaseModel):
    """The tiles of the scene, as image references, and the scene's size."""

    tiles: Annotated[list[dict[str, Any]], ImageRefs] = Field(
        description="One ImageRef per tile, row by row: href (the scene), window (the core, in "
                    "scene pixels) and margin")
    width: int = Field(description="Scene width, in pixels")
    height: int = Field(description="Scene height, in pixels")
    count: int = Field(description="Number of tiles")
