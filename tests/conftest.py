"""Shared fixtures: tiny image folders, an isolated cache and results folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session", autouse=True)
def session_dirs(tmp_path_factory):
    """Even module-scoped fixtures never write into the user's cache or ./results."""
    root = tmp_path_factory.mktemp("session")
    saved = {k: os.environ.get(k) for k in ("SEAMBENCH_CACHE", "SEAMBENCH_RESULTS")}
    os.environ["SEAMBENCH_CACHE"] = str(root / "cache")
    os.environ["SEAMBENCH_RESULTS"] = str(root / "results")
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    """No test writes into the user's cache or ./results, finds the user's weights, or touches the network."""
    monkeypatch.setenv("SEAMBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SEAMBENCH_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("SEAMBENCH_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("SEAMBENCH_WEIGHTS_DIR", raising=False)


def write_setting_images(root: Path, brightness: dict[str, float], per_setting: int = 6, size: int = 32, seed: int = 0) -> Path:
    """One subfolder per setting of noisy PNGs whose mean brightness depends on the setting."""
    rng = np.random.default_rng(seed)
    for setting, mean in brightness.items():
        folder = root / setting
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_setting):
            pixels = np.clip(rng.normal(mean, 12.0, (size, size)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{setting}_{i:02d}.png")
    return root


@pytest.fixture
def easy_folder(tmp_path) -> Path:
    """Four settings; C is far brighter than A, B and D, so it is easy to tell apart."""
    return write_setting_images(tmp_path / "images", {"A": 60, "B": 80, "C": 200, "D": 100})
