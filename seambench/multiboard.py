"""The files and tables of a multi-split run: per-split rows, and one aggregated row per cell.

``splits.csv`` has a row per split × cell (AUROC with its CI and DeLong-vs-best within that split);
``leaderboard.csv`` folds the splits together: mean ± std over seeds, or, for leave-one-setting-out,
the failing setting's AUROC beside the spread over held-out nominal settings.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from seambench.leaderboard import STATUS_STYLE, _ci, _num
from seambench.results import cell_statistics, scores_frame, write_atomic
from seambench.significance import CELL_COLUMNS, StatsSettings

if TYPE_CHECKING:
    from seambench.multisplit import SplitOutcome

LOSO = "leave-one-setting-out"

SPLIT_COLUMNS = [
    "split", "seed", "heldout", "role", "backbone", "reducer", "detector", "status", "auroc", "auroc_lo", "auroc_hi",
    "p_vs_best", "tied_best", "aupr", "fpr95", "message",
]
SEEDS_COLUMNS = [
    "rank", "backbone", "reducer", "detector", "status", "auroc", "auroc_std", "auroc_min", "auroc_max", "n_splits",
    "tied_best_splits", "aupr", "fpr95", "message",
]
LOSO_COLUMNS = [
    "rank", "backbone", "reducer", "detector", "status", "failing_auroc", "failing_lo", "failing_hi", "nominal_mean",
    "nominal_std", "nominal_min", "nominal_max", "margin", "n_splits", "message",
]


def splits_frame(outcomes: Iterable["SplitOutcome"], settings: StatsSettings) -> pd.DataFrame:
    """One row per split × cell, with that split's CI and test against its best row."""
    rows = []
    for outcome in outcomes:
        stats = cell_statistics(outcome.cells, list(outcome.split.test_anomaly), settings)
        for cell in outcome.cells:
            s = stats.get(cell.cell)
            rows.append({
                "split": outcome.plan.name, "seed": outcome.plan.seed, "heldout": "+".join(outcome.plan.heldout),
                "role": outcome.plan.role, "backbone": cell.backbone, "reducer": cell.reducer, "detector": cell.detector,
                "status": cell.status, "auroc": cell.metrics.get("auroc"),
                "auroc_lo": None if s is None else s.auroc_lo, "auroc_hi": None if s is None else s.auroc_hi,
                "p_vs_best": None if s is None else s.p_vs_best, "tied_best": None if s is None else s.tied_best,
                "aupr": cell.metrics.get("aupr"), "fpr95": cell.metrics.get("fpr95"), "message": cell.message,
            })
    return pd.DataFrame(rows, columns=SPLIT_COLUMNS)


def _status(group: pd.DataFrame) -> tuple[str, str]:
    bad = group[group["status"] != "ok"]
    if bad.empty:
        return "ok", ""
    first = bad.iloc[0]
    return str(first["status"]), f"[{first['split']}] {first['message']}"


def _ranked(rows: list[dict[str, Any]], by: str, columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    if frame.empty:
        frame["rank"] = frame["rank"].astype("Int64")
        return frame
    ok = frame["status"] == "ok"
    frame = pd.concat([
        frame[ok].sort_values([by, "backbone", "reducer", "detector"], ascending=[False, True, True, True], na_position="last"),
        frame[~ok].sort_values(["backbone", "reducer", "detector"]),
    ], ignore_index=True)
    frame["rank"] = pd.array([i + 1 if s == "ok" else None for i, s in enumerate(frame["status"])], dtype="Int64")
    return frame


def seeds_board(per_split: pd.DataFrame) -> pd.DataFrame:
    """Mean ± sample std (ddof=1) of each cell's AUROC over seeds."""
    rows = []
    for key, group in per_split.groupby(list(CELL_COLUMNS), sort=False):
        status, message = _status(group)
        auroc = group["auroc"].astype(float)
        rows.append({
            **dict(zip(CELL_COLUMNS, key)), "status": status,
            "auroc": auroc.mean() if status == "ok" else None,
            "auroc_std": auroc.std(ddof=1) if status == "ok" and len(group) > 1 else None,
            "auroc_min": auroc.min() if status == "ok" else None, "auroc_max": auroc.max() if status == "ok" else None,
            "n_splits": len(group), "tied_best_splits": int(group["tied_best"].fillna(False).astype(bool).sum()),
            "aupr": group["aupr"].astype(float).mean() if status == "ok" else None,
            "fpr95": group["fpr95"].astype(float).mean() if status == "ok" else None, "message": message,
        })
    return _ranked(rows, "auroc", SEEDS_COLUMNS)


def loso_board(per_split: pd.DataFrame) -> pd.DataFrame:
    """Per cell: the failing settings' AUROC beside the spread of AUROC over held-out nominal settings.

    Seeds are averaged per held-out setting first; ``margin`` = failing AUROC − the highest nominal
    AUROC: above 0, the failing setting stands out more than any unseen nominal setting does.
    """
    rows = []
    for key, group in per_split.groupby(list(CELL_COLUMNS), sort=False):
        status, message = _status(group)
        row: dict[str, Any] = {**dict(zip(CELL_COLUMNS, key)), "status": status, "n_splits": len(group), "message": message}
        if status == "ok":
            per_setting = group.groupby(["heldout", "role"])["auroc"].mean().reset_index()
            failing = per_setting[per_setting["role"] == "failing"]["auroc"]
            nominal = per_setting[per_setting["role"] == "nominal"]["auroc"]
            failing_rows = group[group["role"] == "failing"]
            row["failing_auroc"] = failing.mean() if len(failing) else None
            if len(failing_rows) == 1:
                row["failing_lo"], row["failing_hi"] = failing_rows["auroc_lo"].item(), failing_rows["auroc_hi"].item()
            if len(nominal):
                row.update(nominal_mean=nominal.mean(), nominal_std=nominal.std(ddof=1) if len(nominal) > 1 else None,
                           nominal_min=nominal.min(), nominal_max=nominal.max())
                if len(failing):
                    row["margin"] = failing.mean() - nominal.max()
        rows.append(row)
    return _ranked(rows, "failing_auroc", LOSO_COLUMNS)


def aggregate(per_split: pd.DataFrame, protocol: str) -> pd.DataFrame:
    return loso_board(per_split) if protocol == LOSO else seeds_board(per_split)


def write_multi_run(folder: Path, info: dict[str, Any], outcomes: list["SplitOutcome"], settings: StatsSettings) -> None:
    """Write splits.csv, leaderboard.csv, scores.parquet (with a split column) and run.json."""
    folder.mkdir(parents=True, exist_ok=True)
    per_split = splits_frame(outcomes, settings)
    write_atomic(folder / "splits.csv", per_split.to_csv(index=False, float_format="%.6g"))
    board = aggregate(per_split, info["protocol"]["name"])
    write_atomic(folder / "leaderboard.csv", board.to_csv(index=False, float_format="%.6g"))
    parts = []
    for o in outcomes:
        scores = scores_frame(o.cells, list(o.split.test), list(o.split.test_anomaly))
        if not scores.empty:
            scores.insert(0, "split", o.plan.name)
            scores.insert(1, "seed", o.plan.seed)
            scores.insert(2, "heldout", "+".join(o.plan.heldout))
            parts.append(scores)
    if parts:
        pd.concat(parts, ignore_index=True).to_parquet(folder / ".scores.parquet.tmp", index=False)
        os.replace(folder / ".scores.parquet.tmp", folder / "scores.parquet")
    out = dict(info)
    stats_by_split = per_split.set_index(["split", *CELL_COLUMNS]) if not per_split.empty else None
    cells = []
    for o in outcomes:
        for c in o.cells:
            entry = {"split": o.plan.name, "backbone": c.backbone, "reducer": c.reducer, "detector": c.detector,
                     "status": c.status, "message": c.message, "metrics": c.metrics, "seconds": c.seconds}
            if c.scores is not None and stats_by_split is not None:
                s = stats_by_split.loc[(o.plan.name, c.backbone, c.reducer, c.detector)]
                entry["statistics"] = {k: (bool(s[k]) if k == "tied_best" else float(s[k]))
                                       for k in ("auroc_lo", "auroc_hi", "p_vs_best", "tied_best")}
            cells.append(entry)
    out["cells"] = cells
    write_atomic(folder / "run.json", json.dumps(out, indent=2, default=str) + "\n")


def multi_table(frame: pd.DataFrame, info: dict[str, Any]) -> Table:
    """The aggregated leaderboard of a seeds or leave-one-setting-out run, as a rich table."""
    protocol = info["protocol"]
    seeds = ", ".join(str(s) for s in protocol["seeds"])
    failing = ", ".join(protocol["failing"]) or "none"
    title = f"seambench · {info.get('dataset', {}).get('spec', '?')} · {protocol['name']} · failing: {failing} · seeds {seeds}"
    caption = f"run {info.get('run_id', '?')} · {len(protocol['splits'])} splits · per-split rows in splits.csv"
    table = Table(title=title, caption=caption, header_style="bold")
    loso = protocol["name"] == LOSO
    heads = (["#", "backbone", "reducer", "detector"]
             + (["failing AUROC", "95% CI", "nominal mean ± std", "nominal min–max", "margin"] if loso
                else ["AUROC mean ± std", "min–max", "★ splits", "AUPR", "FPR@95"])
             + ["status"])
    for h in heads:
        table.add_column(h, justify="left" if h in ("backbone", "reducer", "detector", "status") else "right",
                         no_wrap=h in ("backbone", "reducer", "detector"))
    for row in frame.itertuples(index=False):
        status = row.status if row.status == "ok" else f"{row.status}: {row.message}"
        if loso:
            numbers = [_num(row.failing_auroc), _ci(row.failing_lo, row.failing_hi),
                       f"{_num(row.nominal_mean)} ± {_num(row.nominal_std)}", _ci(row.nominal_min, row.nominal_max),
                       _signed(row.margin)]
        else:
            numbers = [f"{_num(row.auroc)} ± {_num(row.auroc_std)}", _ci(row.auroc_min, row.auroc_max),
                       f"{int(row.tied_best_splits)}/{int(row.n_splits)}", _num(row.aupr), _num(row.fpr95)]
        table.add_row("" if pd.isna(row.rank) else str(row.rank), row.backbone, row.reducer, row.detector, *numbers,
                      Text(status, style=STATUS_STYLE.get(row.status, "")))
    return table


def _signed(value: Any) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{float(value):+.3f}"


def print_multi(frame: pd.DataFrame, info: dict[str, Any], console: Console) -> None:
    console.print(multi_table(frame, info))
    if info["protocol"]["name"] == LOSO:
        console.print("failing AUROC: the failing settings held out; nominal: the AUROC of each nominal setting held out in"
                      " turn against the same nominal test images; margin = failing − nominal max", highlight=False, soft_wrap=True)
    else:
        console.print("AUROC mean ± sample std over seeds; ★ splits: seeds in which the row was not significantly worse"
                      " than that seed's best (DeLong, p ≥ 0.05)", highlight=False, soft_wrap=True)
