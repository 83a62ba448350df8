"""Tests of image input/output (runtime.imageio)."""
