"""Markers that make a pydantic field one of PESTO's shared data types.

`Annotated[str, Image]` says "this string is an Image" (a URI or base64): `packager schemagen`
writes it as `{"$ref": "#/definitions/Image"}`, a reference into schemas/definitions.json, so
every tool reading the describe document knows the field carries pixels. The markers are plain
pydantic metadata, so the model still validates and serialises as the underlying type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: How a data-type reference is spelt while pydantic generates a schema (pydantic resolves every
#: `#/...` reference against its own definitions, but leaves URLs alone); schemagen restores
#: `#/definitions/<name>` afterwards.
FOREIGN_REF = "https://pesto-factory.dev/schemas/definitions.json#/definitions/"

__all__ = [
    "DataType", "FOREIGN_REF", "Image", "Images", "ImageRef", "ImageRefs", "Polygon", "Polygons",
    "Metadata", "Metadatas",
]


@dataclass(frozen=True)
class DataType:
    """A named type of schemas/definitions.json (or of the project's user_definitions.json)."""

    name: str

    @property
    def ref(self) -> str:
        return f"#/definitions/{self.name}"

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict[str, Any]:
        # Only the reference: the definition itself is bundled from definitions.json.
        return {"$ref": FOREIGN_REF + self.name}


Image = DataType("Image")
Images = DataType("Images")
ImageRef = DataType("ImageRef")
ImageRefs = DataType("ImageRefs")
Polygon = DataType("Polygon")
Polygons = DataType("Polygons")
Metadata = DataType("Metadata")
Metadatas = DataType("Metadatas")
