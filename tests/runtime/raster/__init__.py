"""Tests of the raster/tiling engine (runtime.raster)."""
