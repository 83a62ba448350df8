"""PESTO runtime: serves a service project's algorithm as a geoprocessing-api 1.0 REST service.

Algorithms import from here what they may use: `GeoImage`, `report_progress`, and the raster
engine in `pesto_factory.runtime.raster`. The runtime ships inside every service image, so it never imports
the packager or the adapters. Names load lazily, so `import pesto_factory.runtime` (and the packager CLI's
start-up) does not pay for numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["GeoImage", "report_progress", "__version__"]

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pesto_factory.runtime.geoimage import GeoImage
    from pesto_factory.runtime.progress import report_progress


def __getattr__(name: str) -> Any:
    if name == "GeoImage":
        from pesto_factory.runtime.geoimage import GeoImage

        return GeoImage
    if name == "report_progress":
        from pesto_factory.runtime.progress import report_progress

        return report_progress
    raise AttributeError(f"module 'pesto_factory.runtime' has no attribute {name!r}")
