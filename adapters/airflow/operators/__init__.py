"""Airflow operators of PESTO services."""

from __future__ import annotations

from pesto_factory.adapters.airflow.operators.pesto import (
    JOB_URL_KEY,
    PestoJobLink,
    PestoProcessOperator,
    plain,
)

__all__ = ["JOB_URL_KEY", "PestoJobLink", "PestoProcessOperator", "plain"]
