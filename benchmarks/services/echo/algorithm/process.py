"""Returns its image unchanged (pixels and georeferencing): measures image transport."""

from pesto_factory.runtime import GeoImage


class Process:
    def process(self, image: GeoImage) -> dict:
        return {"image": image}
