"""Returns its image unchanged (pixels and georeferencing): measures image transport."""

from runtime import GeoImage


class Process:
    def process(self, image: GeoImage) -> dict:
        return {"image": image}
