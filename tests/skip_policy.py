"""A suite that fails instead of skipping: a pytest plugin loaded for every run (pyproject addopts).

A test that skips because data, a tool or a server is missing hides a broken set-up: `make test`
would be green with nothing tested. Every skip is listed at the end of the run, and any skip
whose reason is not in ALLOWED makes the run fail. PESTO_ALLOW_SKIPS=1 lifts the rule for a
developer's partial run (never set in CI).
"""

from __future__ import annotations

import os

import pytest

#: Reasons (substrings of the skip message) that truly cannot run on these machines, and why.
ALLOWED: dict[str, str] = {
    "needs a GPU": "no accelerator on the CI machines: the GPU profile's image is rendered, "
                   "not built or run",
}

_skipped: list[tuple[str, str]] = []


def _reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append((report.nodeid, _reason(report)))


def _unexpected() -> list[tuple[str, str]]:
    return [(test, why) for test, why in _skipped
            if not any(allowed in why for allowed in ALLOWED)]


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not _skipped:
        return
    terminalreporter.section("skips")
    for test, why in _skipped:
        allowed = "allowed" if (test, why) not in _unexpected() else "NOT ALLOWED"
        terminalreporter.write_line(f"{allowed}: {test}: {why}")
    if _unexpected() and not os.environ.get("PESTO_ALLOW_SKIPS"):
        terminalreporter.write_line(
            f"{len(_unexpected())} test(s) skipped for a reason not in tests/skip_policy.py "
            "ALLOWED: the run fails (set PESTO_ALLOW_SKIPS=1 for a partial local run)", red=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _unexpected() and not os.environ.get("PESTO_ALLOW_SKIPS") and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
