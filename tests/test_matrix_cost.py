"""What each cell costs: a reducer is fitted once per backbone; recall of approximate detectors."""

import types

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.neighbors import NearestNeighbors

import seambench
from seambench.cli import main
from seambench.experiment import execute, prepare
from seambench.matrix import Matrix
from seambench.plugins import build_registry
from seambench.runner import recall_at_k, recall_pairs

FITS: list[tuple[int, int]] = []  # (rows, columns) of every reducer fit


def counting_plugin():
    """A reducer that records each fit, and an approximate detector that misses one neighbour in k."""
    module = types.ModuleType("counting")

    class CountingReducer:
        def __init__(self, tag: int) -> None:
            self.tag = tag

        def fit(self, x):
            FITS.append(x.shape)
            return self

        def transform(self, x):
            return x

    class LossyKNN:
        """Exact neighbours except the last of each row, replaced by an index no search returns."""

        exact = False

        def __init__(self, k: int) -> None:
            self.k, self.metric = k, "euclidean"

        def fit(self, x):
            self.index = NearestNeighbors(n_neighbors=self.k).fit(x)
            return self

        def score(self, x):
            return self.index.kneighbors(x)[0].mean(axis=1)

        def neighbors(self, x):
            idx = self.index.kneighbors(x)[1].copy()
            idx[:, -1] = -1
            return idx

    @seambench.hookimpl
    def register_reducers(register):
        register("counting", CountingReducer, options=[seambench.Option("tag", int, 0)], help="counts fits")

    @seambench.hookimpl
    def register_detectors(register):
        register("lossy", LossyKNN, options=[seambench.Option("k", int, 5)], help="misses one neighbour in k")

    module.register_reducers, module.register_detectors = register_reducers, register_detectors
    return module


def test_a_reducer_is_fitted_once_per_backbone(easy_folder, tmp_path):
    FITS.clear()
    registry = build_registry([("counting", counting_plugin())], entry_points=False)
    matrix = Matrix(
        dataset=f"folder:path={easy_folder},failing=C",
        backbones=("histogram", "histogram:bins=16"),
        reducers=("counting:tag=1", "counting:tag=2"),
        detectors=("knn:k=3", "knn:k=4", "knn:k=3,backend=sklearn", "lossy:k=3"),
    )
    prepared = prepare(matrix, registry)
    _, cells = execute(prepared, tmp_path / "r", use_cache=False)
    assert len(cells) == 2 * 2 * 4 and all(c.status == "ok" for c in cells)
    n_train = len(prepared.split.train)
    assert sorted(FITS) == sorted([(n_train, 64), (n_train, 64), (n_train, 16), (n_train, 16)])


def test_recall_column_for_approximate_detectors(easy_folder, tmp_path):
    registry = build_registry([("counting", counting_plugin())], entry_points=False)
    matrix = Matrix(
        dataset=f"folder:path={easy_folder},failing=C",
        backbones=("histogram",), reducers=("none",),
        detectors=("knn:k=3", "lossy:k=3", "pynndescent:k=3", "pynndescent:k=4"),
    )
    folder, _ = execute(prepare(matrix, registry), tmp_path / "r")
    board = pd.read_csv(folder / "leaderboard.csv").set_index("detector")
    assert board.loc["lossy:k=3", "recall"] == pytest.approx(2 / 3)  # 2 of 3 neighbours right on every row
    assert board.loc["pynndescent:k=3", "recall"] == pytest.approx(1.0)  # graph degree ≥ n: exact on tiny data
    assert pd.isna(board.loc["knn:k=3", "recall"])  # the exact reference itself
    assert pd.isna(board.loc["pynndescent:k=4", "recall"])  # no exact detector with k=4 in this run
    # a warm run reuses the cells and still reports the recall (neighbours are cached with them)
    again, cells = execute(prepare(matrix, registry), tmp_path / "r")
    assert all(c.cached for c in cells)
    warm = pd.read_csv(again / "leaderboard.csv").set_index("detector")
    assert warm.loc["lossy:k=3", "recall"] == pytest.approx(2 / 3)


def test_leaderboard_shows_recall_only_when_present(easy_folder, tmp_path):
    base = ["run", "--dataset", f"folder:path={easy_folder},failing=C", "--backbone", "histogram", "--reducer", "none",
            "--results", str(tmp_path / "r")]
    with_pair = CliRunner().invoke(main, [*base, "--detector", "knn:k=3", "--detector", "pynndescent:k=3"])
    assert with_pair.exit_code == 0, with_pair.output
    assert "┃ recall ┃" in with_pair.output
    alone = CliRunner().invoke(main, [*base, "--detector", "knn:k=3"])
    assert alone.exit_code == 0 and "┃ recall ┃" not in alone.output


def test_recall_helpers():
    exact = np.array([[0, 1, 2], [3, 4, 5]])
    assert recall_at_k(np.array([[2, 1, 0], [3, 9, 8]]), exact) == pytest.approx(4 / 6)
    registry = build_registry(entry_points=False)
    specs = [registry.resolve("detector", s) for s in ("pynndescent:k=3", "knn:k=3", "qdrant:k=3", "knn:k=3,metric=manhattan",
                                                        "pynndescent:k=3,metric=manhattan", "pynndescent:k=5")]
    assert recall_pairs(specs) == {"pynndescent:k=3": "knn:k=3",
                                   "pynndescent:k=3,metric=manhattan": "knn:k=3,metric=manhattan"}
