"""Airflow triggers of PESTO services."""

from __future__ import annotations

from pesto_factory.adapters.airflow.triggers.pesto import PestoJobTrigger

__all__ = ["PestoJobTrigger"]
