"""Airflow operators of PESTO services."""

from __future__ import annotations

from pesto_factory.adapters.airflow.operators.pesto import PestoProcessOperator, plain

__all__ = ["PestoProcessOperator", "plain"]
