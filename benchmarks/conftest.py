"""Shared by the benchmark suites: an isolated cache, and a summary printed after the timings.

Suites add lines to ``SUMMARY`` (images/s, ratios, tables); they are printed at the end of the
session, so ratios measured side by side in one run show up even without ``-s``.
"""

from __future__ import annotations

import os

import pytest

SUMMARY: list[str] = []


def scale() -> str:
    """``SEAMBENCH_BENCH_SCALE``: ``quick`` (default) or ``full`` (the heavy sizes)."""
    return os.environ.get("SEAMBENCH_BENCH_SCALE", "quick").strip().lower() or "quick"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Benchmarks never read or fill the user's cache (a warm cache would time nothing)."""
    monkeypatch.setenv("SEAMBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SEAMBENCH_RESULTS", str(tmp_path / "results"))


def pytest_terminal_summary(terminalreporter) -> None:
    if SUMMARY:
        terminalreporter.section("seambench benchmark summary")
        for line in SUMMARY:
            terminalreporter.write_line(line)
