"""Tests of image input/output (pesto_factory.runtime.imageio)."""
