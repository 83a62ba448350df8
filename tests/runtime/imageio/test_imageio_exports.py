"""runtime.imageio re-exports the public surface of its modules, and nothing is missing."""

from __future__ import annotations

import importlib

import runtime.imageio
import runtime.payload

MODULES = ("boundary", "header", "inline", "locations", "policy", "reading", "writing")


def test_the_package_exports_every_public_name_of_its_modules():
    exported = set(runtime.imageio.__all__)
    for name in MODULES:
        module = importlib.import_module(f"runtime.imageio.{name}")
        assert set(module.__all__) <= exported, name
    assert all(hasattr(runtime.imageio, name) for name in exported)


def test_payload_exports_exist():
    assert all(hasattr(runtime.payload, name) for name in runtime.payload.__all__)
