"""A run folder on disk: leaderboard.csv, run.json and per-image scores, written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from seambench.errors import SeambenchError
from seambench.runner import CellResult, sort_cells
from seambench.significance import RowStats, StatsSettings, row_statistics

LEADERBOARD_COLUMNS = [
    "rank", "backbone", "reducer", "detector", "status", "auroc", "auroc_lo", "auroc_hi", "p_vs_best", "tied_best",
    "aupr", "fpr95", "recall", "embed_s", "reduce_s", "fit_s", "score_s", "cache", "message",
]


def new_run_id(root: Path, dataset_name: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{dataset_name}"
    run_id, n = base, 1
    while (root / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def write_atomic(path: Path, text: str) -> None:
    """Write next to the target, then rename: a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes owner-only files; results are for sharing
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cell_statistics(cells: Iterable[CellResult], anomaly: list[bool], settings: StatsSettings) -> dict[str, RowStats]:
    """CI and DeLong-vs-best per scored cell, keyed by ``cell.cell``."""
    scored = {c.cell: c.scores for c in cells if c.scores is not None}
    if not scored:
        return {}
    return row_statistics(np.asarray(anomaly, dtype=bool), scored, settings)


def leaderboard_frame(cells: Iterable[CellResult], stats: dict[str, RowStats] | None = None) -> pd.DataFrame:
    rows = []
    rank = 0
    stats = stats or {}
    for cell in sort_cells(cells):
        ok = cell.status == "ok"
        rank += ok
        row_stats = stats.get(cell.cell)
        rows.append({
            "rank": rank if ok else None,
            "backbone": cell.backbone,
            "reducer": cell.reducer,
            "detector": cell.detector,
            "status": cell.status,
            "auroc": cell.metrics.get("auroc"),
            "auroc_lo": None if row_stats is None else row_stats.auroc_lo,
            "auroc_hi": None if row_stats is None else row_stats.auroc_hi,
            "p_vs_best": None if row_stats is None else row_stats.p_vs_best,
            "tied_best": None if row_stats is None else row_stats.tied_best,
            "aupr": cell.metrics.get("aupr"),
            "fpr95": cell.metrics.get("fpr95"),
            "recall": cell.metrics.get("recall"),  # approximate detectors' recall@k against exact kNN, when both ran
            "embed_s": cell.seconds.get("embed"),
            "reduce_s": cell.seconds.get("reduce"),
            "fit_s": cell.seconds.get("fit"),
            "score_s": cell.seconds.get("score"),
            "cache": cell.cache,
            "message": cell.message,
        })
    frame = pd.DataFrame(rows, columns=LEADERBOARD_COLUMNS)
    frame["rank"] = frame["rank"].astype("Int64")
    return frame


def scores_frame(cells: Iterable[CellResult], test_records: list, anomaly: list[bool]) -> pd.DataFrame:
    parts = []
    for cell in cells:
        if cell.scores is None:
            continue
        parts.append(pd.DataFrame({
            "backbone": cell.backbone,
            "reducer": cell.reducer,
            "detector": cell.detector,
            "key": [r.key for r in test_records],
            "setting": [r.setting for r in test_records],
            "label": [r.label for r in test_records],
            "anomaly": anomaly,
            "score": cell.scores,
        }))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def write_run(folder: Path, run_info: dict[str, Any], cells: list[CellResult], test_records: list, anomaly: list[bool]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    stats = cell_statistics(cells, anomaly, StatsSettings.from_json(run_info.get("statistics")))
    frame = leaderboard_frame(cells, stats)
    write_atomic(folder / "leaderboard.csv", frame.to_csv(index=False, float_format="%.6g"))
    scores = scores_frame(cells, test_records, anomaly)
    if not scores.empty:
        tmp = folder / ".scores.parquet.tmp"
        scores.to_parquet(tmp, index=False)
        os.replace(tmp, folder / "scores.parquet")
    info = dict(run_info)
    info["cells"] = [
        {"backbone": c.backbone, "reducer": c.reducer, "detector": c.detector, "status": c.status,
         "message": c.message, "metrics": c.metrics, "seconds": c.seconds, "cache": c.cache,
         **({"statistics": asdict(stats[c.cell])} if c.cell in stats else {})}
        for c in cells
    ]
    write_atomic(folder / "run.json", json.dumps(info, indent=2, default=str) + "\n")


def find_run(root: Path, run: str | None) -> Path:
    """A run by id or path; the latest run under ``root`` when none is named."""
    if run is not None:
        for candidate in (Path(run), root / run):
            if (candidate / "leaderboard.csv").is_file():
                return candidate
        raise SeambenchError(f"no run {run!r}: expected a folder with leaderboard.csv (runs live in {root}/)")
    runs = sorted(p for p in root.glob("*/") if (p / "run.json").is_file()) if root.is_dir() else []
    if not runs:
        raise SeambenchError(f"no runs in {root}/ yet; start one with `seambench run --matrix`")
    return max(runs, key=lambda p: (json.loads((p / "run.json").read_text()).get("finished", ""), p.name))


def read_run(folder: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    frame = pd.read_csv(folder / "leaderboard.csv", dtype={"message": str})
    frame["rank"] = frame["rank"].astype("Int64")
    frame["message"] = frame["message"].fillna("")
    if "tied_best" in frame:
        frame["tied_best"] = frame["tied_best"].map({True: True, False: False, "True": True, "False": False}).astype("boolean")
    info = json.loads((folder / "run.json").read_text())
    return frame, info
