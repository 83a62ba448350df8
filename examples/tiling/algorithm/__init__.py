"""Tiling: a scene cut into tiles with a stability margin, as ImageRefs for a fan-out."""
