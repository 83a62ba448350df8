"""Airflow operators of PESTO services."""

from __future__ import annotations

from adapters.airflow.operators.pesto import PestoProcessOperator, plain

__all__ = ["PestoProcessOperator", "plain"]
