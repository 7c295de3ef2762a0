"""The embedding cache: a warm run reuses features, gives identical numbers, and never trusts a corrupt entry."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner

from seambench import cache
from seambench.cli import main

RUN = ["--backbone", "histogram", "--backbone", "timm:test_resnet,pretrained=false,size=32",
       "--reducer", "none", "--reducer", "pca:d=3", "--detector", "knn:k=3"]


def run(folder: Path, results: Path, *extra: str) -> Path:
    before = set(results.glob("*")) if results.exists() else set()
    result = CliRunner().invoke(main, ["run", "--dataset", f"folder:path={folder},failing=C", *RUN, "--results", str(results), *extra])
    assert result.exit_code == 0, result.output
    (new,) = set(results.glob("*")) - before
    return new


def test_second_run_hits_the_cache_with_identical_numbers(easy_folder, tmp_path):
    first = run(easy_folder, tmp_path / "r")
    second = run(easy_folder, tmp_path / "r")
    a, b = json.loads((first / "run.json").read_text()), json.loads((second / "run.json").read_text())
    assert set(a["embedding_cache"].values()) == {"miss"}
    assert set(b["embedding_cache"].values()) == {"hit"}
    assert a["images_embedded"] == {"histogram": 24, "timm:test_resnet,pretrained=false,size=32": 24}
    assert b["images_embedded"] == {}
    cols = ["backbone", "reducer", "detector", "auroc", "aupr", "fpr95"]
    pd.testing.assert_frame_equal(pd.read_csv(first / "leaderboard.csv")[cols], pd.read_csv(second / "leaderboard.csv")[cols])
    sa, sb = pd.read_parquet(first / "scores.parquet"), pd.read_parquet(second / "scores.parquet")
    np.testing.assert_array_equal(sa["score"], sb["score"])


def test_no_cache_recomputes_and_matches(easy_folder, tmp_path):
    first = run(easy_folder, tmp_path / "r")
    fresh = run(easy_folder, tmp_path / "r", "--no-cache")
    assert set(json.loads((fresh / "run.json").read_text())["embedding_cache"].values()) == {"off"}
    np.testing.assert_allclose(pd.read_parquet(first / "scores.parquet")["score"],
                               pd.read_parquet(fresh / "scores.parquet")["score"], rtol=1e-5)


def test_corrupt_entry_is_recomputed(easy_folder, tmp_path):
    run(easy_folder, tmp_path / "r")
    entries = sorted(cache.embeddings_root().glob("*/features.npy"))
    assert len(entries) == 2
    for features in entries:
        data = bytearray(features.read_bytes())
        data[-4:] = b"\x00\x00\xc0\x7f"  # flip the last float to NaN: the checksum no longer matches
        features.write_bytes(bytes(data))
    again = run(easy_folder, tmp_path / "r")
    assert set(json.loads((again / "run.json").read_text())["embedding_cache"].values()) == {"miss"}
    assert pd.read_csv(again / "leaderboard.csv")["status"].eq("ok").all()


def test_store_load_roundtrip_and_key_depends_on_content():
    features = np.arange(12, dtype=np.float32).reshape(4, 3)
    key = cache.entry_key("histogram", {"bins": 64}, ["a", "b", "c", "d"])
    assert cache.entry_key("histogram", {"bins": 32}, ["a", "b", "c", "d"]) != key
    assert cache.entry_key("histogram", {"bins": 64}, ["a", "b", "c", "e"]) != key
    assert cache.load(key) is None
    cache.store(key, features, {"backbone": "histogram"})
    loaded = cache.load(key)
    assert isinstance(loaded, np.memmap)
    np.testing.assert_array_equal(loaded, features)
    cache.store("half", features, {}, dtype="float16")
    assert cache.load("half").dtype == np.float16


def test_cache_info_and_clear_commands(easy_folder, tmp_path):
    run(easy_folder, tmp_path / "r")
    info = CliRunner().invoke(main, ["cache", "info", "--json"])
    assert json.loads(info.output)["kinds"]["embeddings"]["entries"] == 2
    cleared = CliRunner().invoke(main, ["cache", "clear", "embeddings"])
    assert cleared.exit_code == 0 and "freed" in cleared.output
    assert not cache.embeddings_root().exists()


def test_cells_come_from_cache_and_a_new_detector_costs_only_itself(easy_folder, tmp_path):
    first = run(easy_folder, tmp_path / "r")
    second = run(easy_folder, tmp_path / "r")
    info = json.loads((second / "run.json").read_text())
    assert info["cells_from_cache"] == 4
    board = pd.read_csv(second / "leaderboard.csv")
    assert set(board["cache"]) == {"cell"}
    pd.testing.assert_series_equal(board["fit_s"], pd.read_csv(first / "leaderboard.csv")["fit_s"])
    grown = run(easy_folder, tmp_path / "r", "--detector", "knn:k=3,metric=manhattan")
    board = pd.read_csv(grown / "leaderboard.csv")
    assert len(board) == 8
    assert (board[board.detector == "knn:k=3,metric=manhattan"]["cache"] == "hit").all()
    assert (board[board.detector == "knn:k=3"]["cache"] == "cell").all()
