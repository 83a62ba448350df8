"""The package re-exports exactly its public surface (what services may import)."""

from __future__ import annotations

import pesto_factory.runtime.raster


def test_all_names_exist_and_are_public():
    for name in pesto_factory.runtime.raster.__all__:
        assert hasattr(pesto_factory.runtime.raster, name), name
        assert not name.startswith("_")
    assert len(set(pesto_factory.runtime.raster.__all__)) == len(pesto_factory.runtime.raster.__all__)


def test_every_public_module_declares_all():
    from pesto_factory.runtime.raster import (
        blocks,
        errors,
        filter,
        io,
        shared,
        sources,
        stats,
        windows,
    )

    for module in (blocks, errors, filter, io, shared, sources, stats, windows):
        assert module.__doc__ and module.__all__, module.__name__
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
