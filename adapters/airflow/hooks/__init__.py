"""Airflow hooks of PESTO services."""

from __future__ import annotations

from adapters.airflow.hooks.pesto import PestoHook

__all__ = ["PestoHook"]
