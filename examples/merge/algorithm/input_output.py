"""Typed input and output of the merge service (read by `packager schemagen`).

`TileResult` (a cloud-detection output) is defined in pesto/api/user_definitions.json.
"""

from __future__ import annotations

from typing import Annotated, Any

from pesto_factory.packager.types import DataType, Image
from pydantic import BaseModel, ConfigDict, Field

TileResult = DataType("TileResult")


class Input(BaseModel):
    """A scene and the cloud-detection results of all its tiles, in any order."""

    model_config = ConfigDict(extra="forbid")

    scene: Annotated[str, Image] = Field(
        json_schema_extra={"x-pesto-read": "header"},
        description="The scene the tiles were cut from (URI): gives the mask's size, CRS and "
                    "transform. Only its header is read.")
    tiles: list[Annotated[dict[str, Any], TileResult]] = Field(
        min_length=1, description="Every tile's cloud-detection output {mask, window, ...}")


class Output(BaseModel):
    """The scene's cloud mask, its cloud fraction and a quicklook."""

    mask: Annotated[str, Image] = Field(
        description="uint8 mask of the whole scene as a COG georeferenced like the scene: "
                    "0 clear, 1 cloud, 2 cloud shadow, 255 nodata")
    cloud_fraction: float | None = Field(
        description="Cloud share of the scene's pixels with data; null when all are nodata")
    quicklook: Annotated[str, Image] = Field(
        json_schema_extra={"contentMediaType": "image/png"},
        description="PNG (RGB) of the mask, at most 1024 px on its longer side: clear "
                    "dark grey, cloud white, shadow dark blue, nodata black")


