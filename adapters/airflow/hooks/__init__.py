"""Airflow hooks of PESTO services."""

from __future__ import annotations

from pesto_factory.adapters.airflow.hooks.pesto import PestoHook, service_url

__all__ = ["PestoHook", "service_url"]
