"""Two finished runs side by side: ΔAUROC per cell with its CI, and which changes are significant.

Runs are joined by cell (and by split name, for seeds / leave-one-setting-out runs). When a cell
was scored on the same test images in both runs (same data, held-out settings and seed), the
difference is tested paired (DeLong, with the covariance of the two ROC curves); otherwise the
two AUROCs are independent estimates and their DeLong variances add.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seambench.errors import SeambenchError
from seambench.significance import CELL_COLUMNS
from seambench.stats import delong, normal_ci, two_sided_p

PAIRED, UNPAIRED = "paired", "unpaired"
COMPARE_COLUMNS = [
    "split", "backbone", "reducer", "detector", "auroc_a", "auroc_b", "delta", "delta_lo", "delta_hi", "p", "test",
    "change",
]


@dataclass(frozen=True)
class LoadedRun:
    folder: Path
    info: dict[str, Any]
    scores: pd.DataFrame

    @property
    def protocol(self) -> str:
        return self.info.get("protocol", {}).get("name", "holdout")

    @property
    def holdout(self) -> list[str]:
        return sorted(self.info.get("holdout", []))

    @property
    def fingerprint(self) -> str:
        return self.info.get("dataset", {}).get("fingerprint", "")


def load_run(folder: Path) -> LoadedRun:
    path = folder / "scores.parquet"
    if not path.is_file():
        raise SeambenchError(f"run {folder} has no scores.parquet (no cell finished); compare needs per-image scores")
    scores = pd.read_parquet(path)
    if "split" not in scores:
        scores.insert(0, "split", "")
    return LoadedRun(folder, json.loads((folder / "run.json").read_text()), scores)


def check_comparable(a: LoadedRun, b: LoadedRun, force: bool) -> list[str]:
    """Refuse runs that answer different questions; with ``force``, return warnings instead."""
    if a.protocol != b.protocol:
        raise SeambenchError(f"runs use different protocols ({a.protocol} vs {b.protocol}); compare runs of one protocol")
    problems = []
    if a.fingerprint != b.fingerprint:
        problems.append(f"the data differ (dataset fingerprint {a.fingerprint[:12]}… vs {b.fingerprint[:12]}…)")
    if a.holdout != b.holdout:
        problems.append(f"the held-out settings differ ({'+'.join(a.holdout) or 'none'} vs {'+'.join(b.holdout) or 'none'})")
    if problems and not force:
        raise SeambenchError(f"will not compare {a.folder.name} with {b.folder.name}: {'; '.join(problems)};"
                             " their AUROCs measure different things — pass --force to compare anyway")
    return problems


def _compare_cell(ga: pd.DataFrame, gb: pd.DataFrame, level: float) -> dict[str, Any]:
    la, sa = ga["anomaly"].to_numpy(bool), ga["score"].to_numpy(np.float64)
    same_images = len(ga) == len(gb) and set(ga["key"]) == set(gb["key"])
    if same_images:
        gb = gb.set_index("key").loc[ga["key"]].reset_index()
        same_images = bool(np.array_equal(gb["anomaly"].to_numpy(bool), la))
    if same_images:
        test = delong(la, np.stack([sa, gb["score"].to_numpy(np.float64)]))
        delta, var = test.difference(1, 0)
        auroc_a, auroc_b, kind = test.auroc[0], test.auroc[1], PAIRED
    else:
        da = delong(la, sa[None, :])
        db = delong(gb["anomaly"].to_numpy(bool), gb["score"].to_numpy(np.float64)[None, :])
        auroc_a, auroc_b, kind = da.auroc[0], db.auroc[0], UNPAIRED
        delta, var = float(auroc_b - auroc_a), da.variance(0) + db.variance(0)
    lo, hi = normal_ci(delta, var, level)
    return {"auroc_a": float(auroc_a), "auroc_b": float(auroc_b), "delta": delta, "delta_lo": lo, "delta_hi": hi,
            "p": two_sided_p(delta, var), "test": kind}


def compare_runs(a: LoadedRun, b: LoadedRun, level: float = 0.95, alpha: float = 0.05) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Per joined cell: AUROC in A and B, Δ = B − A with its CI and p; plus cells found in only one run."""
    keys = ["split", *CELL_COLUMNS]
    groups_a = dict(tuple(a.scores.groupby(keys, sort=False)))
    groups_b = dict(tuple(b.scores.groupby(keys, sort=False)))
    rows = []
    for key, ga in groups_a.items():
        if key not in groups_b:
            continue
        row = {**dict(zip(keys, key)), **_compare_cell(ga, groups_b[key], level)}
        significant = row["p"] < alpha
        row["change"] = ("better" if row["delta"] > 0 else "worse") if significant else ""
        rows.append(row)
    label = lambda k: " | ".join(x for x in k if x)
    only_a = [label(k) for k in groups_a if k not in groups_b]
    only_b = [label(k) for k in groups_b if k not in groups_a]
    frame = pd.DataFrame(rows, columns=COMPARE_COLUMNS)
    return frame.sort_values("delta", ascending=False, ignore_index=True), only_a, only_b
