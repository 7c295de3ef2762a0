"""Training curves of a backbone that trains: per-epoch loss and accuracy as CSV and a PNG plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

CURVE_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")


def curves_figure(frame: Any, title: str) -> Any:
    """Loss and setting accuracy per epoch, train and validation, side by side."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5), constrained_layout=True)
    for ax, metric, label in ((ax_loss, "loss", "cross-entropy loss"), (ax_acc, "acc", "setting accuracy")):
        for part, style in (("train", "-o"), ("val", "--s")):
            column = f"{part}_{metric}"
            if column in frame and frame[column].notna().any():
                ax.plot(frame["epoch"], frame[column], style, label=part, markersize=3)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    ax_acc.set_ylim(0, 1.02)
    fig.suptitle(title, fontsize=9)
    return fig


def write_curves(history: Sequence[dict[str, Any]], folder: Path, title: str) -> tuple[Path, Path]:
    """training.csv and training.png in ``folder``; validation columns are empty without a validation split."""
    import matplotlib.pyplot as plt
    import pandas as pd

    frame = pd.DataFrame(list(history), columns=list(CURVE_COLUMNS))
    csv_path = folder / "training.csv"
    frame.to_csv(csv_path, index=False, float_format="%.6g")
    fig = curves_figure(frame, title)
    png_path = folder / "training.png"
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
    return csv_path, png_path
