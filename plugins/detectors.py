"""Built-in detectors: exact kNN and approximate kNN (pynndescent).

Both score a test point by its mean distance to the k nearest nominal-train points.
"""

from __future__ import annotations

import numpy as np

from seambench import Option, hookimpl


def _check_k(k: int, n_train: int) -> int:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if n_train < k:
        raise ValueError(f"k={k} is more than the {n_train} training points")
    return k


class ExactKNN:
    """Brute-force exact neighbours (scikit-learn)."""

    def __init__(self, k: int, metric: str) -> None:
        self.k, self.metric = k, metric

    def fit(self, features: np.ndarray) -> "ExactKNN":
        from sklearn.neighbors import NearestNeighbors

        _check_k(self.k, features.shape[0])
        self.index = NearestNeighbors(n_neighbors=self.k, algorithm="brute", metric=self.metric).fit(features)
        return self

    def score(self, features: np.ndarray) -> np.ndarray:
        distances, _ = self.index.kneighbors(features, n_neighbors=self.k)
        return distances.mean(axis=1)


class NNDescentKNN:
    """Approximate neighbours with an NN-descent graph (pynndescent)."""

    def __init__(self, k: int, metric: str, n_neighbors: int, seed: int) -> None:
        self.k, self.metric, self.n_neighbors, self.seed = k, metric, n_neighbors, seed

    def fit(self, features: np.ndarray) -> "NNDescentKNN":
        import pynndescent

        n = features.shape[0]
        _check_k(self.k, n)
        self.index = pynndescent.NNDescent(
            features,
            metric=self.metric,
            n_neighbors=max(self.k, min(self.n_neighbors, n - 1)),
            random_state=self.seed,
            n_jobs=1,
        )
        self.index.prepare()
        return self

    def score(self, features: np.ndarray) -> np.ndarray:
        _, distances = self.index.query(features, k=self.k)
        return distances.mean(axis=1)

    def warm_up(self) -> None:
        """Compile pynndescent's numba kernels on a tiny problem (tens of seconds, once per process)."""
        x = np.random.default_rng(0).random((64, 8), dtype=np.float32)
        NNDescentKNN(2, self.metric, 8, 0).fit(x).score(x[:4])


@hookimpl
def register_detectors(register) -> None:
    register(
        "knn",
        ExactKNN,
        options=[
            Option("k", int, 5, "neighbours averaged (the study found 3-7 best)"),
            Option("metric", str, "euclidean", "distance (any scikit-learn metric)"),
        ],
        help="exact kNN: mean distance to the k nearest nominal-train points",
    )
    register(
        "pynndescent",
        NNDescentKNN,
        options=[
            Option("k", int, 5, "neighbours averaged"),
            Option("metric", str, "euclidean", "distance (any pynndescent metric)"),
            Option("n_neighbors", int, 30, "degree of the search graph"),
            Option("seed", int, 0, "random state of the graph construction"),
        ],
        help="approximate kNN over an NN-descent graph, same score as knn",
    )
