"""PESTO runtime: serves a service project's algorithm as a geoprocessing-api 1.0 REST service.

Algorithms import from here what they may use: `GeoImage`, `report_progress`, and the raster
engine in `runtime.raster`. The runtime ships inside every service image, so it never imports
the packager or the adapters.
"""

from __future__ import annotations

from runtime.geoimage import GeoImage
from runtime.progress import report_progress

__all__ = ["GeoImage", "report_progress", "__version__"]

__version__ = "0.1.0"
