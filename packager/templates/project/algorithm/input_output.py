"""Typed inputs and outputs of the service: `packager schemagen` writes pesto/api's
input_schema.json and output_schema.json from these models.

Mark a field holding pixels with a data type of pesto_factory.packager.types (Image, Images, ImageRef,
ImageRefs, Polygon, Polygons, Metadata, Metadatas): `Annotated[str, Image]`.
"""

from __future__ import annotations

from typing import Annotated

from pesto_factory.packager.types import Image
from pydantic import BaseModel, Field


class Input(BaseModel):
    image: Annotated[str, Image] = Field(description="Image to threshold (URI or base64)")
    threshold: float = Field(0.5, description="Pixels above this value are set in the mask")
    band: int = Field(1, ge=1, description="1-based index of the band compared")


class Output(BaseModel):
    mask: Annotated[str, Image] = Field(description="uint8 mask: 1 above the threshold, else 0")
    fraction: float = Field(ge=0, le=1, description="Fraction of the pixels set in the mask")
