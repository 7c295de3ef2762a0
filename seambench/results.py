"""A run folder on disk: leaderboard.csv, run.json and per-image scores, written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from seambench.errors import SeambenchError
from seambench.runner import CellResult, sort_cells

LEADERBOARD_COLUMNS = [
    "rank", "backbone", "reducer", "detector", "status", "auroc", "aupr", "fpr95",
    "embed_s", "reduce_s", "fit_s", "score_s", "cache", "message",
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
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def leaderboard_frame(cells: Iterable[CellResult]) -> pd.DataFrame:
    rows = []
    rank = 0
    for cell in sort_cells(cells):
        ok = cell.status == "ok"
        rank += ok
        rows.append({
            "rank": rank if ok else None,
            "backbone": cell.backbone,
            "reducer": cell.reducer,
            "detector": cell.detector,
            "status": cell.status,
            "auroc": cell.metrics.get("auroc"),
            "aupr": cell.metrics.get("aupr"),
            "fpr95": cell.metrics.get("fpr95"),
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
    frame = leaderboard_frame(cells)
    write_atomic(folder / "leaderboard.csv", frame.to_csv(index=False, float_format="%.6g"))
    scores = scores_frame(cells, test_records, anomaly)
    if not scores.empty:
        tmp = folder / ".scores.parquet.tmp"
        scores.to_parquet(tmp, index=False)
        os.replace(tmp, folder / "scores.parquet")
    info = dict(run_info)
    info["cells"] = [
        {"backbone": c.backbone, "reducer": c.reducer, "detector": c.detector, "status": c.status,
         "message": c.message, "metrics": c.metrics, "seconds": c.seconds, "cache": c.cache}
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
    info = json.loads((folder / "run.json").read_text())
    return frame, info
