"""Typed input and output of the cloud-detection service (read by `packager schemagen`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pesto_factory.packager.types import DataType, ImageRef
from pydantic import BaseModel, ConfigDict, Field

Window = DataType("Window")


class Input(BaseModel):
    """One tile of a multispectral scene, read with its stability margin."""

    model_config = ConfigDict(extra="forbid")

    tile: Annotated[dict[str, Any], ImageRef] = Field(
        description="The tile: href (the scene), window (its core, in scene pixels) and margin "
                    "(context read around it; at least the detector's margin, 40 by default)")
    sensor: Literal["sentinel2", "landsat8", "landsat9"] | None = Field(
        None, description="Sensor profile for this call (band ids, DN rescaling, nodata, fitted "
                          "thresholds); null: the service's configured sensor")
    sun_elevation: float | None = Field(
        None, gt=0, le=90, description="Scene sun elevation in degrees (SUN_ELEVATION of the "
                                       "MTL): Landsat digital numbers need it")


class Output(BaseModel):
    """The tile's cloud mask (its core only) with where it goes in the scene."""

    mask: Annotated[dict[str, Any], ImageRef] = Field(
        description="uint8 mask of the core window, written as a COG georeferenced like the "
                    "window: 0 clear, 1 cloud, 2 cloud shadow, 255 nodata")
    window: Annotated[dict[str, int], Window] = Field(
        description="The core window in scene pixels (the tile's window)")
    cloud_fraction: float | None = Field(
        description="Cloud share of the core's pixels with data; null when all are nodata")
    valid_pixels: int = Field(ge=0, description="Pixels of the core with data")
