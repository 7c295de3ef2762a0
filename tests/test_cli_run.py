"""End to end through the CLI on tiny data: what a user runs, and the files it leaves."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors

from seambench.cli import main


def run_cli(*args: str):
    return CliRunner().invoke(main, list(args))


def only_run(results: Path) -> Path:
    runs = [p for p in results.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One matrix run shared by the assertions below: 2 backbones × 2 reducers × 2 detectors."""
    from tests.conftest import write_setting_images

    root = tmp_path_factory.mktemp("e2e")
    images = write_setting_images(root / "images", {"A": 60, "B": 80, "C": 200, "D": 100})
    results = root / "results"
    result = run_cli(
        "run", "--dataset", f"folder:path={images},failing=C",
        "--backbone", "histogram:bins=16", "--backbone", "timm:test_resnet,pretrained=false,size=32",
        "--reducer", "none", "--reducer", "pca:d=4",
        "--detector", "knn:k=3", "--detector", "pynndescent:k=3",
        "--results", str(results),
    )
    return result, only_run(results), images


def test_run_prints_a_row_per_cell_and_writes_the_files(tiny_run):
    result, folder, _ = tiny_run
    assert result.exit_code == 0, result.output
    board = pd.read_csv(folder / "leaderboard.csv")
    assert len(board) == 8
    assert set(board["status"]) == {"ok"}
    assert list(board["auroc"]) == sorted(board["auroc"], reverse=True)
    assert list(board["rank"]) == list(range(1, 9))
    for row in board.itertuples():
        assert row.backbone in result.output
        assert f"{row.auroc:.3f}" in result.output
    assert (folder / "run.json").is_file() and (folder / "scores.parquet").is_file()


def test_run_json_agrees_with_the_leaderboard(tiny_run):
    _, folder, _ = tiny_run
    info = json.loads((folder / "run.json").read_text())
    board = pd.read_csv(folder / "leaderboard.csv")
    assert info["status"] == "finished"
    assert info["holdout"] == ["C"]
    assert info["split"] == {"train": 15, "test": 9, "test_anomalies": 6, "test_nominal": 3}
    assert info["leakage"]["passed"] is True
    assert info["dataset"]["images"] == 24 and len(info["dataset"]["fingerprint"]) == 64
    assert {c["spec"] for c in info["components"]["backbones"]} == {"histogram:bins=16", "timm:test_resnet,pretrained=false,size=32"}
    for cell in info["cells"]:
        row = board[(board.backbone == cell["backbone"]) & (board.reducer == cell["reducer"]) & (board.detector == cell["detector"])]
        assert row["auroc"].item() == pytest.approx(cell["metrics"]["auroc"], abs=1e-5)
    # Each backbone saw every image exactly once: no backbone is computed twice.
    assert info["images_embedded"] == {"histogram:bins=16": 24, "timm:test_resnet,pretrained=false,size=32": 24}


def test_saved_scores_reproduce_the_auroc(tiny_run):
    _, folder, _ = tiny_run
    scores = pd.read_parquet(folder / "scores.parquet")
    board = pd.read_csv(folder / "leaderboard.csv")
    for (b, r, d), group in scores.groupby(["backbone", "reducer", "detector"]):
        expected = board[(board.backbone == b) & (board.reducer == r) & (board.detector == d)]["auroc"].item()
        assert roc_auc_score(group["anomaly"], group["score"]) == pytest.approx(expected, abs=1e-5)
        assert set(group[group.anomaly]["setting"]) == {"C"}


def test_histogram_knn_scores_equal_a_direct_computation(tiny_run):
    """The knn cell's scores are the mean distance to the 3 nearest nominal-train histograms."""
    _, folder, images = tiny_run
    from seambench.plugins import build_registry
    from seambench.protocol import make_split

    dataset = build_registry(entry_points=False).resolve("dataset", f"folder:path={images},failing=C").build()
    split = make_split(dataset, ("C",), test_fraction=0.2, seed=0)
    hist = lambda rs: np.array([np.histogram(r.load(), bins=16, range=(0, 256))[0] / r.load().size for r in rs])
    distances, _ = NearestNeighbors(n_neighbors=3).fit(hist(split.train)).kneighbors(hist(split.test))
    scores = pd.read_parquet(folder / "scores.parquet")
    cell = scores[(scores.backbone == "histogram:bins=16") & (scores.reducer == "none") & (scores.detector == "knn:k=3")]
    assert list(cell["key"]) == [r.key for r in split.test]
    np.testing.assert_allclose(cell["score"], distances.mean(axis=1), rtol=1e-5)


def test_leaderboard_command_reprints_the_latest_run(tiny_run, monkeypatch):
    result, folder, _ = tiny_run
    monkeypatch.setenv("SEAMBENCH_RESULTS", str(folder.parent))
    again = run_cli("leaderboard")
    assert again.exit_code == 0, again.output
    assert folder.name in again.output
    as_csv = run_cli("leaderboard", folder.name, "--csv")
    assert as_csv.output == (folder / "leaderboard.csv").read_text()


def test_unknown_holdout_fails_with_one_line_and_writes_nothing(easy_folder, tmp_path):
    results = tmp_path / "out"
    result = run_cli("run", "--dataset", f"folder:path={easy_folder}", "--holdout", "Z",
                     "--backbone", "histogram", "--reducer", "none", "--detector", "knn", "--results", str(results))
    assert result.exit_code == 2
    lines = [l for l in result.output.splitlines() if l.strip()]
    assert lines == ["error: unknown held-out setting 'Z'; available settings: A, B, C, D"]
    assert not results.exists()


def test_bad_spec_fails_with_one_line(easy_folder, tmp_path):
    result = run_cli("run", "--dataset", f"folder:path={easy_folder},failing=C", "--detector", "knn:k=x",
                     "--backbone", "histogram", "--reducer", "none", "--results", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "k='x' is not a valid int" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_missing_folder_names_the_path(tmp_path):
    result = run_cli("run", "--dataset", f"folder:path={tmp_path}/nope", "--backbone", "histogram")
    assert result.exit_code == 2
    assert f"{tmp_path}/nope does not exist" in result.output


def test_failing_cell_is_a_row_and_the_rest_runs(easy_folder, tmp_path):
    # k=50 is more neighbours than training images: that cell errors, the others run.
    result = run_cli("run", "--dataset", f"folder:path={easy_folder},failing=C", "--backbone", "histogram",
                     "--reducer", "none", "--detector", "knn:k=3", "--detector", "knn:k=50", "--results", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    board = pd.read_csv(only_run(tmp_path / "out") / "leaderboard.csv")
    bad = board[board.detector == "knn:k=50"].iloc[0]
    assert bad.status == "error" and "k=50 is more than the 15 training points" in bad.message
    assert board[board.detector == "knn:k=3"].iloc[0].status == "ok"


def test_manifest_with_labels_is_honoured(easy_folder, tmp_path):
    """FAIL labels in a manifest make anomalies, even with no setting held out, and never train."""
    rows = []
    for path in sorted(easy_folder.rglob("*.png")):
        setting = path.parent.name
        label = "FAIL" if setting == "C" or path.stem.endswith("_00") else "PASS"
        rows.append({"path": path.relative_to(easy_folder).as_posix(), "setting": setting, "label": label})
    manifest = easy_folder / "manifest.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    result = run_cli("run", "--dataset", f"folder:path={manifest}", "--holdout", "none", "--backbone", "histogram",
                     "--reducer", "none", "--detector", "knn:k=3", "--results", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    folder = only_run(tmp_path / "out")
    info = json.loads((folder / "run.json").read_text())
    assert info["holdout"] == []
    assert info["split"]["test_anomalies"] == 6 + 3  # all of C, plus the _00 image of A, B and D
    scores = pd.read_parquet(folder / "scores.parquet")
    assert set(scores[scores.anomaly]["label"]) == {"FAIL"}
    assert info["leakage"]["training_sets"]["nominal-train"]["images"] == 24 - 9 - info["split"]["test_nominal"]


def test_histogram_knn_is_well_above_chance_on_an_easy_case(easy_folder, tmp_path):
    result = run_cli("run", "--dataset", f"folder:path={easy_folder},failing=C", "--backbone", "histogram",
                     "--reducer", "none", "--detector", "knn:k=3", "--results", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    board = pd.read_csv(only_run(tmp_path / "out") / "leaderboard.csv")
    assert board.auroc.iloc[0] > 0.95
