"""Per-backbone embeddings saved in the run folder, so a report can draw them after the run.

``embeddings.npy`` holds float32 (images, d) in split order (nominal-train, then test);
``embeddings.parquet`` says which image each row is and its role in the split.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from seambench.protocol import Split

TRAIN, TEST_NOMINAL, TEST_ANOMALY = "train", "test-nominal", "test-anomaly"
ROLES = (TRAIN, TEST_NOMINAL, TEST_ANOMALY)


def roles(split: Split) -> list[str]:
    return [TRAIN] * len(split.train) + [TEST_ANOMALY if a else TEST_NOMINAL for a in split.test_anomaly]


def write_embeddings(folder: Path, split: Split, features: np.ndarray) -> None:
    """Save features of ``split.train + split.test`` (in that order) with their keys and roles."""
    records = split.train + split.test
    if features.shape[0] != len(records):
        raise ValueError(f"{features.shape[0]} embeddings for {len(records)} images")
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / ".embeddings.npy.tmp"
    with open(tmp, "wb") as fh:
        np.save(fh, np.asarray(features, dtype=np.float32))
    os.replace(tmp, folder / "embeddings.npy")
    index = pd.DataFrame({
        "key": [r.key for r in records],
        "setting": [r.setting for r in records],
        "label": [r.label for r in records],
        "role": roles(split),
    })
    index.to_parquet(folder / ".embeddings.parquet.tmp", index=False)
    os.replace(folder / ".embeddings.parquet.tmp", folder / "embeddings.parquet")


def read_embeddings(folder: Path) -> tuple[np.ndarray, pd.DataFrame] | None:
    """The saved features and their index, or None when the backbone saved none."""
    if not (folder / "embeddings.npy").is_file() or not (folder / "embeddings.parquet").is_file():
        return None
    return np.load(folder / "embeddings.npy"), pd.read_parquet(folder / "embeddings.parquet")
