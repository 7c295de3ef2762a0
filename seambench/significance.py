"""The leaderboard's error bars: a bootstrap CI per row and DeLong's test of each row against the best.

Computed from per-image scores only, so a finished run's numbers can be recomputed (or recomputed
with more resamples) from its scores.parquet without running anything again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Hashable, Mapping

import numpy as np
import pandas as pd

from seambench.stats import bootstrap_aurocs, delong, percentile_ci, two_sided_p

CELL_COLUMNS = ("backbone", "reducer", "detector")


@dataclass(frozen=True)
class StatsSettings:
    """How a run's CIs and tests are made; recorded in run.json so they can be reproduced."""

    bootstrap: int = 1000
    ci_seed: int = 0
    level: float = 0.95
    alpha: float = 0.05

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ci": "stratified percentile bootstrap of AUROC",
                "test": "DeLong paired test against the best row, two-sided"}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> "StatsSettings":
        data = data or {}
        return cls(**{k: data[k] for k in ("bootstrap", "ci_seed", "level", "alpha") if k in data})


@dataclass(frozen=True)
class RowStats:
    """One row's CI and its comparison with the best row of the same test images."""

    auroc_lo: float
    auroc_hi: float
    p_vs_best: float
    tied_best: bool


def row_statistics(labels: np.ndarray, scores: Mapping[Hashable, np.ndarray], settings: StatsSettings) -> dict[Hashable, RowStats]:
    """CI and "not significantly worse than the best" for every cell scored on the same images."""
    keys = list(scores)
    if not keys:
        return {}
    matrix = np.stack([np.asarray(scores[k], dtype=np.float64) for k in keys])
    lo, hi = percentile_ci(bootstrap_aurocs(labels, matrix, settings.bootstrap, settings.ci_seed), settings.level)
    test = delong(labels, matrix)
    best = int(np.argmax(test.auroc))
    out = {}
    for i, key in enumerate(keys):
        p = 1.0 if i == best else two_sided_p(*test.difference(best, i))
        out[key] = RowStats(float(lo[i]), float(hi[i]), p, bool(p >= settings.alpha))
    return out


def statistics_from_scores(scores: pd.DataFrame, settings: StatsSettings) -> dict[tuple[str, str, str], RowStats]:
    """Row statistics of a finished single-split run, from its scores.parquet frame."""
    if scores.empty:
        return {}
    groups = {key: group for key, group in scores.groupby(list(CELL_COLUMNS), sort=False)}
    first = next(iter(groups.values()))
    labels = first["anomaly"].to_numpy(bool)
    keys = first["key"].tolist()
    per_cell = {}
    for key, group in groups.items():
        if group["key"].tolist() != keys:
            raise ValueError(f"cell {' | '.join(key)} was scored on different test images than the others")
        per_cell[key] = group["score"].to_numpy(np.float64)
    return row_statistics(labels, per_cell, settings)
