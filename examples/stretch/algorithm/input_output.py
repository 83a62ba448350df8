"""Typed input and output of the stretch service (read by `packager schemagen`)."""

from __future__ import annotations

from typing import Annotated

from pesto_factory.packager.types import Image
from pydantic import BaseModel, Field


class Input(BaseModel, extra="forbid"):
    image: Annotated[str, Image] = Field(description="Image to stretch (URI or base64)")
    low: float = Field(2.0, ge=0, le=100, description="Percentile mapped to 1")
    high: float = Field(98.0, ge=0, le=100, description="Percentile mapped to 255")


class Output(BaseModel):
    stretched: Annotated[str, Image] = Field(description="uint8 image, 0 where nodata")
