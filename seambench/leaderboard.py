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
    for name, justify in [
        ("#", "right"), ("backbone", "left"), ("reducer", "left"), ("detector", "left"),
        ("AUROC", "right"), ("AUPR", "right"), ("FPR@95", "right"),
        ("embed s", "right"), ("reduce s", "right"), ("fit s", "right"), ("score s", "right"), ("status", "left"),
    ]:
        table.add_column(name, justify=justify, no_wrap=name in ("backbone", "reducer", "detector"))
    for row in frame.itertuples(index=False):
        status = row.status if row.status == "ok" else f"{row.status}: {row.message}"
        style = STATUS_STYLE.get(row.status, "")
        table.add_row(
            "" if pd.isna(row.rank) else str(row.rank),
            row.backbone, row.reducer, row.detector,
            _num(row.auroc), _num(row.aupr), _num(row.fpr95),
            _num(row.embed_s, 2), _num(row.reduce_s, 2), _num(row.fit_s, 3), _num(row.score_s, 3),
            Text(status, style=style),
        )
    return table


def print_leaderboard(frame: pd.DataFrame, info: dict[str, Any], console: Console | None = None) -> None:
    (console or Console()).print(leaderboard_table(frame, info))
