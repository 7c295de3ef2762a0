"""Where seambench keeps things on disk: the cache (embeddings, generated data) and run results."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def cache_dir() -> Path:
    """The cache root: ``SEAMBENCH_CACHE`` when set, else the platform's user cache folder."""
    root = os.environ.get("SEAMBENCH_CACHE")
    path = Path(root) if root else Path(platformdirs.user_cache_dir("seambench"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def results_dir() -> Path:
    """Where runs are written: ``SEAMBENCH_RESULTS`` when set, else ``./results``."""
    return Path(os.environ.get("SEAMBENCH_RESULTS", "results"))
