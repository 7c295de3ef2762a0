"""CIs on the leaderboard, seeds, leave-one-setting-out and `seambench compare`, end to end on tiny data."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.metrics import roc_auc_score

from seambench.cli import main
from seambench.significance import StatsSettings, statistics_from_scores
from PIL import Image

BRIGHTNESS = {"A": 70, "B": 90, "C": 100, "D": 110}


def write_overlapping_settings(root: Path, per_setting: int = 8, size: int = 24) -> Path:
    """Each image's brightness jitters around its setting's, so settings overlap and no AUROC is a sure 1."""
    rng = np.random.default_rng(0)
    for setting, mean in BRIGHTNESS.items():
        (root / setting).mkdir(parents=True)
        for i in range(per_setting):
            pixels = rng.normal(mean + rng.normal(0, 12), 10, (size, size))
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(root / setting / f"{i:02d}.png")
    return root


def run_cli(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A handful of runs over one tiny folder dataset, named by what they vary."""
    root = tmp_path_factory.mktemp("trust")
    images = write_overlapping_settings(root / "images")
    results = root / "results"
    common = ["--dataset", f"folder:path={images},failing=C", "--backbone", "histogram:bins=16",
              "--reducer", "none", "--reducer", "pca:d=3", "--detector", "knn:k=3", "--results", str(results)]
    out = {}
    for name, extra in {
        "seed0": ["--bootstrap", "400", "--ci-seed", "7"],
        "seed0-again": [],
        "seed1": ["--seed", "1"],
        "holdout-D": ["--holdout", "D"],
        "seeds": ["--seeds", "0,1,2", "--no-cache"],  # no disk cache: the in-run memo alone must avoid recomputing
        "loso": ["--protocol", "leave-one-setting-out"],
    }.items():
        before = set(results.iterdir()) if results.exists() else set()
        result = run_cli("run", *common, *extra)
        assert result.exit_code == 0, (name, result.output)
        (folder,) = set(results.iterdir()) - before
        out[name] = (result, folder)
    out["images"] = images
    return out


def test_every_row_has_a_ci_that_the_saved_scores_reproduce(runs):
    result, folder = runs["seed0"]
    board = pd.read_csv(folder / "leaderboard.csv")
    assert {"auroc_lo", "auroc_hi", "p_vs_best", "tied_best"} <= set(board.columns)
    assert (board.auroc_lo <= board.auroc).all() and (board.auroc <= board.auroc_hi).all()
    info = json.loads((folder / "run.json").read_text())
    assert info["statistics"]["bootstrap"] == 400 and info["statistics"]["ci_seed"] == 7
    again = statistics_from_scores(pd.read_parquet(folder / "scores.parquet"), StatsSettings(bootstrap=400, ci_seed=7))
    for row in board.itertuples():
        s = again[(row.backbone, row.reducer, row.detector)]
        assert (row.auroc_lo, row.auroc_hi) == pytest.approx((s.auroc_lo, s.auroc_hi), abs=1e-6)
        assert row.tied_best == s.tied_best
    best = board.iloc[0]
    assert best.tied_best and best.p_vs_best == 1.0
    line = next(l for l in result.output.splitlines() if l.startswith("best:"))
    assert f"AUROC {best.auroc:.3f}" in line and f"CI {best.auroc_lo:.3f}–{best.auroc_hi:.3f}" in line and "400" in line
    # Another resampling seed gives another (still valid) interval: the option is honoured.
    other = pd.read_csv(runs["seed0-again"][1] / "leaderboard.csv")
    assert not np.allclose(other.auroc_lo, board.auroc_lo) or not np.allclose(other.auroc_hi, board.auroc_hi)


def test_embeddings_are_saved_with_roles(runs):
    _, folder = runs["seed0"]
    info = json.loads((folder / "run.json").read_text())
    features = np.load(folder / "backbones" / "histogram_bins=16" / "embeddings.npy")
    index = pd.read_parquet(folder / "backbones" / "histogram_bins=16" / "embeddings.parquet")
    assert features.shape == (32, 16) and features.dtype == np.float32
    counts = index.role.value_counts().to_dict()
    assert counts == {"train": info["split"]["train"], "test-nominal": info["split"]["test_nominal"],
                      "test-anomaly": info["split"]["test_anomalies"]}
    assert set(index[index.role == "test-anomaly"].setting) == {"C"}


def test_seeds_report_mean_and_std_of_the_per_seed_aurocs(runs):
    result, folder = runs["seeds"]
    per_split = pd.read_csv(folder / "splits.csv")
    scores = pd.read_parquet(folder / "scores.parquet")
    assert sorted(per_split.split.unique()) == ["seed=0", "seed=1", "seed=2"]
    for row in per_split.itertuples():
        cell = scores[(scores.split == row.split) & (scores.backbone == row.backbone) & (scores.reducer == row.reducer)]
        assert roc_auc_score(cell.anomaly, cell.score) == pytest.approx(row.auroc, abs=1e-5)
        assert row.auroc_lo <= row.auroc <= row.auroc_hi
    board = pd.read_csv(folder / "leaderboard.csv")
    for row in board.itertuples():
        aurocs = per_split[(per_split.backbone == row.backbone) & (per_split.reducer == row.reducer)].auroc
        assert row.auroc == pytest.approx(aurocs.mean(), abs=1e-5)
        assert row.auroc_std == pytest.approx(np.std(aurocs, ddof=1), abs=1e-5)
        assert f"{row.auroc:.3f} ± {row.auroc_std:.3f}" in result.output
    # Seed 0 of the seeds run is the single run with seed 0.
    single = pd.read_csv(runs["seed0-again"][1] / "leaderboard.csv")
    seed0 = per_split[per_split.split == "seed=0"]
    for row in single.itertuples():
        assert seed0[(seed0.backbone == row.backbone) & (seed0.reducer == row.reducer)].auroc.item() == pytest.approx(row.auroc, abs=1e-5)
    # The histogram does not train: each image is embedded once for all three splits.
    info = json.loads((folder / "run.json").read_text())
    assert info["images_embedded"] == {"histogram:bins=16": 32}
    assert [s["seed"] for s in info["protocol"]["splits"]] == [0, 1, 2]


def test_leave_one_setting_out_sets_failing_beside_nominal_spread(runs):
    result, folder = runs["loso"]
    info = json.loads((folder / "run.json").read_text())
    splits = {s["name"]: s for s in info["protocol"]["splits"]}
    assert list(splits) == ["holdout=C", "holdout=A", "holdout=B", "holdout=D"]
    assert splits["holdout=C"]["role"] == "failing" and {splits[n]["role"] for n in ("holdout=A", "holdout=B", "holdout=D")} == {"nominal"}
    # The failing setting never trains, even when another setting is the one held out.
    assert all("C" in s["holdout"] for s in splits.values())
    scores = pd.read_parquet(folder / "scores.parquet")
    for name, group in scores.groupby("split"):
        held = splits[name]["heldout"][0]
        assert set(group[group.anomaly].setting) == {held}
        assert held not in set(group[~group.anomaly].setting) and (name == "holdout=C" or "C" not in set(group.setting))
    board = pd.read_csv(folder / "leaderboard.csv")
    for row in board.itertuples():
        cell = scores[(scores.backbone == row.backbone) & (scores.reducer == row.reducer)]
        per = {n: roc_auc_score(g.anomaly, g.score) for n, g in cell.groupby("split")}
        nominal = [per[n] for n in ("holdout=A", "holdout=B", "holdout=D")]
        assert row.failing_auroc == pytest.approx(per["holdout=C"], abs=1e-5)
        assert (row.nominal_mean, row.nominal_min, row.nominal_max) == pytest.approx((np.mean(nominal), min(nominal), max(nominal)), abs=1e-5)
        assert row.margin == pytest.approx(per["holdout=C"] - max(nominal), abs=1e-5)
        assert f"{row.failing_auroc:.3f}" in result.output
    assert "nominal mean ± std" in result.output


def test_compare_different_seeds_prints_unpaired_deltas(runs):
    (_, a), (_, b) = runs["seed0"], runs["seed1"]
    result = run_cli("compare", str(a), str(b))
    assert result.exit_code == 0, result.output
    table = pd.read_csv(__import__("io").StringIO(run_cli("compare", str(a), str(b), "--csv").output))
    board_a, board_b = pd.read_csv(a / "leaderboard.csv"), pd.read_csv(b / "leaderboard.csv")
    assert len(table) == 2 and set(table.test) == {"unpaired"}
    for row in table.itertuples():
        auroc_a = board_a[(board_a.reducer == row.reducer)].auroc.item()
        auroc_b = board_b[(board_b.reducer == row.reducer)].auroc.item()
        assert row.delta == pytest.approx(auroc_b - auroc_a, abs=1e-5)
        assert row.delta_lo < row.delta < row.delta_hi
        assert f"{row.delta:+.3f}" in result.output


def test_compare_same_test_images_is_paired(runs):
    (_, a), (_, b) = runs["seed0"], runs["seed0-again"]
    table = pd.read_csv(__import__("io").StringIO(run_cli("compare", str(a), str(b), "--csv").output))
    assert set(table.test) == {"paired"} and np.allclose(table.delta, 0) and table.change.isna().all()


def test_compare_refuses_different_holdouts_unless_forced(runs):
    (_, a), (_, d) = runs["seed0"], runs["holdout-D"]
    refused = run_cli("compare", str(a), str(d))
    assert refused.exit_code == 2
    lines = [l for l in refused.output.splitlines() if l.strip()]
    assert len(lines) == 1 and "held-out settings differ (C vs D)" in lines[0] and "--force" in lines[0]
    forced = run_cli("compare", str(a), str(d), "--force")
    assert forced.exit_code == 0, forced.output
    assert "unpaired" in forced.output


def test_seed_and_seeds_together_is_a_one_line_error(runs, tmp_path):
    result = run_cli("run", "--dataset", f"folder:path={runs['images']},failing=C", "--backbone", "histogram",
                     "--reducer", "none", "--detector", "knn", "--seed", "1", "--seeds", "0,1", "--results", str(tmp_path / "o"))
    assert result.exit_code == 2 and "either --seed or --seeds" in result.output
    assert not (tmp_path / "o").exists()
