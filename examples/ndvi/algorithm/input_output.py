"""Typed input and output of the NDVI service (read by `packager schemagen`)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Input(BaseModel, extra="forbid"):
    image: str = Field(json_schema_extra={"$ref": "#/definitions/Image"},
                       description="Multispectral image (URI or base64)")
    red_band: int = Field(3, ge=1, description="1-based index of the red band")
    nir_band: int = Field(4, ge=1, description="1-based index of the near-infrared band")


class Output(BaseModel):
    ndvi: str = Field(json_schema_extra={"$ref": "#/definitions/Image"},
                      description="NDVI as float32 GeoTIFF, NaN where undefined")
    mean: float | None = Field(description="Mean NDVI over valid pixels")
