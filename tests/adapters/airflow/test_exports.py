"""The Airflow adapter's packages re-export their public surface; the top package lazily."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = {
    "pesto_factory.adapters.airflow.hooks": "pesto_factory.adapters.airflow.hooks.pesto",
    "pesto_factory.adapters.airflow.operators": "pesto_factory.adapters.airflow.operators.pesto",
    "pesto_factory.adapters.airflow.triggers": "pesto_factory.adapters.airflow.triggers.pesto",
}


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_each_package_exports_its_module(package):
    imported = importlib.import_module(package)
    module = importlib.import_module(PACKAGES[package])
    assert sorted(imported.__all__) == sorted(module.__all__)
    assert all(getattr(imported, name) is getattr(module, name) for name in module.__all__)


def test_the_top_package_resolves_every_name():
    import pesto_factory.adapters.airflow as top

    assert all(getattr(top, name) is not None for name in top.__all__)
    with pytest.raises(AttributeError):
        top.Nope  # noqa: B018
