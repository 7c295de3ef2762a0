"""Shared by the benchmark suites: an isolated cache, and a summary printed after the timings.

Suites register functions in ``SUMMARY`` that return lines (images/s, ratios, tables); they are
printed at the end of the session, so numbers measured side by side show up even without ``-s``.
"""

from __future__ import annotations

import os
from typing import Callable

import pytest

SUMMARY: list[Callable[[], list[str]]] = []


def scale() -> str:
    """``SEAMBENCH_BENCH_SCALE``: ``quick`` (default) or ``full`` (the heavy sizes)."""
    return os.environ.get("SEAMBENCH_BENCH_SCALE", "quick").strip().lower() or "quick"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Benchmarks never read or fill the user's cache (a warm cache would time nothing)."""
    monkeypatch.setenv("SEAMBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SEAMBENCH_RESULTS", str(tmp_path / "results"))


def pytest_terminal_summary(terminalreporter) -> None:
    lines = [line for section in SUMMARY for line in section()]
    if lines:
        terminalreporter.section("seambench benchmark summary")
        for line in lines:
            terminalreporter.write_line(line)
