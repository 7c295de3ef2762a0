"""A run as one self-contained HTML page: leaderboard, ROC curves, embedding scatters, provenance.

Every picture is a PNG embedded as a data: URI and the page has no scripts, so it opens offline,
can be mailed around, and renders the same years later.
"""

from __future__ import annotations

import base64
import html
import io
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seambench.embeddings import ROLES, TEST_ANOMALY, TEST_NOMINAL, TRAIN, read_embeddings
from seambench.experiment import safe_name
from seambench.results import read_run, write_atomic

ROLE_STYLE = {TRAIN: ("#9aa0a6", "nominal train"), TEST_NOMINAL: ("#1a73e8", "nominal test"),
              TEST_ANOMALY: ("#d93025", "held out (anomaly)")}
UMAP, PCA = "umap", "pca"


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _figure(width: float = 6.0, height: float = 4.5) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def project_2d(features: np.ndarray, method: str = UMAP, seed: int = 0) -> tuple[np.ndarray, str]:
    """2-D coordinates of the embeddings, and the method that made them (UMAP, or PCA as a fallback)."""
    from sklearn.decomposition import PCA as SkPCA
    from sklearn.preprocessing import StandardScaler

    x = StandardScaler().fit_transform(np.asarray(features, dtype=np.float64))
    if method == UMAP and len(x) >= 10:
        try:
            import umap

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                reducer = umap.UMAP(n_components=2, n_neighbors=min(15, len(x) - 1), random_state=seed)
                return np.asarray(reducer.fit_transform(x)), "UMAP"
        except Exception:  # a scatter is still worth drawing: fall back to PCA
            pass
    n = min(2, x.shape[1], len(x))
    coords = SkPCA(n_components=n, random_state=seed).fit_transform(x)
    if coords.shape[1] < 2:
        coords = np.column_stack([coords, np.zeros(len(coords))])
    return coords, "PCA"


def scatter_png(label: str, features: np.ndarray, index: pd.DataFrame, method: str) -> tuple[str, str]:
    coords, used = project_2d(features, method)
    fig, ax = _figure(6.0, 5.0)
    for role in ROLES:
        mask = (index["role"] == role).to_numpy()
        if mask.any():
            color, name = ROLE_STYLE[role]
            ax.scatter(coords[mask, 0], coords[mask, 1], s=14 if role == TRAIN else 22, c=color, alpha=0.55 if role == TRAIN else 0.85,
                       label=f"{name} ({int(mask.sum())})", edgecolors="none")
    ax.set_title(f"{label}: {used} of {features.shape[1]}-d embeddings", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=8, loc="best")
    return _png(fig), used


def roc_png(scores: pd.DataFrame, rows: pd.DataFrame) -> str:
    from sklearn.metrics import roc_curve

    fig, ax = _figure()
    for row in rows.itertuples(index=False):
        cell = scores[(scores.backbone == row.backbone) & (scores.reducer == row.reducer) & (scores.detector == row.detector)]
        if cell.empty:
            continue
        fpr, tpr, _ = roc_curve(cell["anomaly"].to_numpy(bool), cell["score"].to_numpy(float))
        ci = "" if pd.isna(getattr(row, "auroc_lo", np.nan)) else f" [{row.auroc_lo:.3f}–{row.auroc_hi:.3f}]"
        ax.plot(fpr, tpr, lw=1.6, label=f"{row.backbone} | {row.reducer} | {row.detector}: {row.auroc:.3f}{ci}")
    ax.plot([0, 1], [0, 1], ls="--", c="#888", lw=0.8)
    ax.set_xlabel("false-positive rate (nominal flagged)")
    ax.set_ylabel("true-positive rate (held-out caught)")
    ax.set_title("ROC curves of the top rows (AUROC [95% CI])", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig)


def curves_png(csv: Path, title: str) -> str:
    from seambench.curves import curves_figure

    return _png(curves_figure(pd.read_csv(csv), title))


def _primary(folder: Path, info: dict[str, Any]) -> tuple[Path, str]:
    """Where the drawn split's backbone folders are, and that split's name ('' for a single split)."""
    protocol = info.get("protocol")
    if not protocol:
        return folder / "backbones", ""
    first = protocol["splits"][0]["name"]
    return folder / "splits" / safe_name(first) / "backbones", first


def _table(frame: pd.DataFrame) -> str:
    shown = frame.drop(columns=[c for c in ("embed_s", "reduce_s", "fit_s", "score_s") if c in frame])
    return shown.to_html(index=False, na_rep="—", float_format=lambda v: f"{v:.3f}", border=0, classes="board", escape=True)


def _provenance(info: dict[str, Any]) -> str:
    d = info.get("dataset", {})
    items = [
        ("run", info.get("run_id")), ("status", info.get("status")), ("command", info.get("command")),
        ("started / finished", f"{info.get('started')} / {info.get('finished')}"),
        ("dataset", d.get("spec")), ("dataset fingerprint", d.get("fingerprint")), ("images", d.get("images")),
        ("held out", ", ".join(info.get("holdout", [])) or "none (labels)"), ("seed", info.get("seed")),
        ("test fraction", info.get("test_fraction")), ("split sizes", json.dumps(info.get("split"))),
        ("protocol", json.dumps({k: v for k, v in info["protocol"].items() if k != "splits"}) if info.get("protocol") else "holdout (single split)"),
        ("statistics", json.dumps(info.get("statistics"))),
        ("leakage check", "passed" if info.get("leakage", {}).get("passed") else "not recorded"),
        ("test content sha256", info.get("leakage", {}).get("test_content_sha256")),
        ("components", json.dumps({k: [c["spec"] for c in v] for k, v in info.get("components", {}).items()})),
        ("versions", json.dumps(info.get("versions"))), ("platform", info.get("platform")),
    ]
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td><code>{html.escape(str(v))}</code></td></tr>" for k, v in items)
    return f"<table class='prov'>{rows}</table>"


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1200px;color:#202124;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em}td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left}
table.prov th{white-space:nowrap;vertical-align:top}code{font-size:.95em;word-break:break-all}
.figs{display:flex;flex-wrap:wrap;gap:1em}.figs figure{margin:0}img{max-width:100%;height:auto}
figcaption{font-size:.8em;color:#555}p.note{font-size:.85em;color:#444}
"""


def build_report(folder: Path, projection: str = UMAP, top: int = 5) -> Path:
    """Write ``report.html`` into the run folder and return its path."""
    frame, info = read_run(folder)
    scores_path = folder / "scores.parquet"
    scores = pd.read_parquet(scores_path) if scores_path.is_file() else pd.DataFrame()
    backbones_dir, split_name = _primary(folder, info)
    if split_name and not scores.empty:
        scores = scores[scores["split"] == split_name]
    per_split = pd.read_csv(folder / "splits.csv") if (folder / "splits.csv").is_file() else None
    rows = frame if per_split is None else per_split[per_split["split"] == split_name].sort_values("auroc", ascending=False)
    rows = rows[rows["status"] == "ok"].head(top)

    title = f"seambench run {info.get('run_id', folder.name)}"
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p>{html.escape(str(info.get('dataset', {}).get('spec')))} · held out: "
             f"{html.escape(', '.join(info.get('holdout', [])) or 'none')} · status {html.escape(str(info.get('status')))}</p>",
             "<h2>Leaderboard</h2>", _table(frame),
             "<p class='note'>auroc_lo/auroc_hi: stratified bootstrap CI; tied_best: not significantly worse than the best row"
             " (DeLong, paired, two-sided).</p>"]
    if per_split is not None:
        parts += ["<h2>Per split</h2>", _table(per_split)]
    parts.append("<h2>ROC curves</h2>" + (f"<p class='note'>split {html.escape(split_name)}</p>" if split_name else ""))
    if not rows.empty and not scores.empty:
        parts.append(f"<div class='figs'><figure><img alt='ROC curves' src='{roc_png(scores, rows)}'></figure></div>")
    else:
        parts.append("<p>No scored cells.</p>")

    parts.append("<h2>Embeddings: nominal train, nominal test and held-out</h2>")
    figures = []
    for spec in info.get("components", {}).get("backbones", []):
        label = spec["spec"]
        loaded = read_embeddings(backbones_dir / safe_name(label))
        if loaded is None:
            continue
        src, used = scatter_png(label, *loaded, projection)
        figures.append(f"<figure><img alt='{html.escape(used)} scatter of {html.escape(label)}' src='{src}'>"
                       f"<figcaption>{html.escape(label)} — {used}, fitted on all images of the split</figcaption></figure>")
    parts.append(f"<div class='figs'>{''.join(figures)}</div>" if figures else "<p>No embeddings saved in this run.</p>")

    curves = []
    for spec in info.get("components", {}).get("backbones", []):
        d = backbones_dir / safe_name(spec["spec"])
        # seambench.curves writes training.csv and training.png; draw from the CSV if the PNG is missing.
        if (d / "training.png").is_file():
            curves.append((spec["spec"], "data:image/png;base64," + base64.b64encode((d / "training.png").read_bytes()).decode()))
        elif (d / "training.csv").is_file():
            curves.append((spec["spec"], curves_png(d / "training.csv", spec["spec"])))
    if curves:
        parts.append("<h2>Finetuning curves</h2><div class='figs'>" + "".join(
            f"<figure><img alt='training curves of {html.escape(l)}' src='{s}'><figcaption>{html.escape(l)}</figcaption></figure>"
            for l, s in curves) + "</div>")

    parts += ["<h2>Provenance</h2>", _provenance(info)]
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>\n")
    out = folder / "report.html"
    write_atomic(out, page)
    return out
