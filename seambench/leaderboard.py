"""The leaderboard as people read it: a rich table, best AUROC first."""

from __future__ import annotations

from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

STATUS_STYLE = {"ok": "green", "skipped": "yellow", "error": "red"}


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    return f"{float(value):.{digits}f}"


def _ci(lo: Any, hi: Any) -> str:
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return "—"
    return f"{float(lo):.3f}–{float(hi):.3f}"


def _mark(tied: Any) -> str:
    return "★" if tied is True or (tied is not None and not pd.isna(tied) and bool(tied)) else ""


def _level(info: dict[str, Any]) -> str:
    return f"{100 * info.get('statistics', {}).get('level', 0.95):g}%"


def best_row_line(frame: pd.DataFrame, info: dict[str, Any]) -> str | None:
    """One sentence naming the best row and its CI, and what the ★ marks mean."""
    ok = frame[frame["status"] == "ok"]
    if ok.empty or "auroc_lo" not in ok or pd.isna(ok["auroc_lo"].iloc[0]):
        return None
    best = ok.iloc[0]
    stats = info.get("statistics", {})
    tied = int(ok["tied_best"].fillna(False).astype(bool).sum()) if "tied_best" in ok else 0
    return (
        f"best: {best.backbone} | {best.reducer} | {best.detector}  AUROC {best.auroc:.3f}"
        f" ({_level(info)} CI {best.auroc_lo:.3f}–{best.auroc_hi:.3f}, {stats.get('bootstrap', '?')} stratified bootstrap"
        f" resamples, seed {stats.get('ci_seed', '?')}); ★ = not significantly worse than the best"
        f" (DeLong, p ≥ {stats.get('alpha', 0.05):g}): {tied} of {len(ok)} rows"
    )


def leaderboard_table(frame: pd.DataFrame, info: dict[str, Any]) -> Table:
    split = info.get("split", {})
    holdout = ", ".join(info.get("holdout", [])) or "none (labels)"
    title = f"seambench · {info.get('dataset', {}).get('spec', '?')} · held out: {holdout}"
    caption = (
        f"run {info.get('run_id', '?')} · train {split.get('train', '?')} nominal ·"
        f" test {split.get('test_nominal', '?')} nominal + {split.get('test_anomalies', '?')} anomalies · seed {info.get('seed', '?')}"
    )
    warm = info.get("warmup_seconds") or {}
    if warm:
        caption += " · one-time compile (not in the columns): " + ", ".join(f"{k} {v:.0f} s" for k, v in warm.items())
    from_cache = info.get("cells_from_cache", 0)
    if from_cache:
        caption += f" · {from_cache} cells from cache (their seconds are from the run that computed them)"
    table = Table(title=title, caption=caption, header_style="bold")
    # recall@k of approximate detectors against exact kNN: shown only when a run holds such a pair
    show_recall = "recall" in frame and frame["recall"].notna().any()
    for name, justify in [
        ("#", "right"), ("backbone", "left"), ("reducer", "left"), ("detector", "left"),
        ("AUROC", "right"), (f"{_level(info)} CI", "right"), ("≈best", "center"), ("AUPR", "right"), ("FPR@95", "right"),
        *([("recall", "right")] if show_recall else []),
        ("embed s", "right"), ("reduce s", "right"), ("fit s", "right"), ("score s", "right"), ("status", "left"),
    ]:
        table.add_column(name, justify=justify, no_wrap=name in ("backbone", "reducer", "detector"))
    for row in frame.itertuples(index=False):
        status = row.status if row.status == "ok" else f"{row.status}: {row.message}"
        style = STATUS_STYLE.get(row.status, "")
        table.add_row(
            "" if pd.isna(row.rank) else str(row.rank),
            row.backbone, row.reducer, row.detector,
            _num(row.auroc), _ci(getattr(row, "auroc_lo", None), getattr(row, "auroc_hi", None)),
            _mark(getattr(row, "tied_best", None)), _num(row.aupr), _num(row.fpr95),
            *([_num(row.recall)] if show_recall else []),
            _num(row.embed_s, 2), _num(row.reduce_s, 2), _num(row.fit_s, 3), _num(row.score_s, 3),
            Text(status, style=style),
        )
    return table


def print_leaderboard(frame: pd.DataFrame, info: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    console.print(leaderboard_table(frame, info))
    line = best_row_line(frame, info)
    if line:
        console.print(line, highlight=False, soft_wrap=True)
