"""Tests of the raster/tiling engine (pesto_factory.runtime.raster)."""
