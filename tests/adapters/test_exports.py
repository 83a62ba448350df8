"""The adapters' packages re-export their public surface (what the generators build on)."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = {
    "pesto_factory.adapters.client": ["pesto_factory.adapters.client.client", "pesto_factory.adapters.client.errors",
                        "pesto_factory.adapters.client.models", "pesto_factory.adapters.client.ogc"],
    "pesto_factory.adapters.pipeline": ["pesto_factory.adapters.pipeline.model", "pesto_factory.adapters.pipeline.expressions",
                          "pesto_factory.adapters.pipeline.loader", "pesto_factory.adapters.pipeline.inputs",
                          "pesto_factory.adapters.pipeline.typecheck"],
    "pesto_factory.adapters.local": ["pesto_factory.adapters.local.run", "pesto_factory.adapters.local.summary"],
}


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_every_public_name_of_the_modules_is_exported_by_the_package(package):
    imported = importlib.import_module(package)
    assert [name for name in imported.__all__ if not hasattr(imported, name)] == []
    for module_name in PACKAGES[package]:
        module = importlib.import_module(module_name)
        missing = sorted(set(module.__all__) - set(imported.__all__))
        assert missing == [], f"{module_name} names not exported by {package}: {missing}"
