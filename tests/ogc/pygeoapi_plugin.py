"""A pygeoapi process plugin of the tests' own: writes a small 4-band GeoTIFF scene.

pygeoapi (not this project) serves it; the embedded runner calls it through OGC API -
Processes as one step of a chain, and the next step (a PESTO service) reads the scene it wrote.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from pygeoapi.process.base import BaseProcessor, ProcessorExecuteError

from tests.runtime.conftest import write_scene

PROCESS_METADATA = {
    "version": "1.0.0",
    "id": "synthetic-scene",
    "title": "Synthetic scene",
    "description": "Writes a random 4-band uint16 GeoTIFF at the file URI given.",
    "jobControlOptions": ["sync-execute"],
    "keywords": ["test"],
    "links": [],
    "inputs": {
        "href": {"title": "Target", "description": "file:// URI to write", "minOccurs": 1,
                 "maxOccurs": 1, "schema": {"type": "string"}},
        "size": {"title": "Size", "description": "side in pixels", "minOccurs": 0,
                 "maxOccurs": 1, "schema": {"type": "integer", "default": 64}},
        "seed": {"title": "Seed", "description": "random seed", "minOccurs": 0,
                 "maxOccurs": 1, "schema": {"type": "integer", "default": 0}},
    },
    "outputs": {
        "scene": {"title": "Scene", "description": "the scene written",
                  "schema": {"type": "string", "contentMediaType":
                             "image/tiff; application=geotiff"}},
    },
    "example": {"inputs": {"href": "file:///tmp/scene.tif"}},
}


class SceneProcessor(BaseProcessor):
    def __init__(self, processor_def: dict) -> None:
        super().__init__(processor_def, PROCESS_METADATA)

    def execute(self, data: dict, outputs: dict | None = None) -> tuple[str, dict]:
        href = data.get("href")
        if not isinstance(href, str) or not href.startswith("file:///"):
            raise ProcessorExecuteError("href must be a file:/// URI")
        path = Path(unquote(urlparse(href).path))
        path.parent.mkdir(parents=True, exist_ok=True)
        write_scene(path, size=int(data.get("size", 64)), seed=int(data.get("seed", 0)))
        return "application/json", {
            "scene": {"href": path.as_uri(), "type": "image/tiff; application=geotiff"}}
