"""pesto_factory.runtime.imageio re-exports the public surface of its modules, and nothing is missing."""

from __future__ import annotations

import importlib

import pesto_factory.runtime.imageio
import pesto_factory.runtime.payload

MODULES = ("boundary", "header", "inline", "locations", "policy", "reading", "writing")


def test_the_package_exports_every_public_name_of_its_modules():
    exported = set(pesto_factory.runtime.imageio.__all__)
    for name in MODULES:
        module = importlib.import_module(f"pesto_factory.runtime.imageio.{name}")
        assert set(module.__all__) <= exported, name
    assert all(hasattr(pesto_factory.runtime.imageio, name) for name in exported)


def test_payload_exports_exist():
    assert all(hasattr(pesto_factory.runtime.payload, name) for name in pesto_factory.runtime.payload.__all__)
