"""Built-in detectors: exact kNN and approximate kNN (pynndescent).

Both score a test point by its mean distance to the k nearest nominal-train points, and both
expose ``neighbors(features)`` (the indices of those k points) so a run holding both can report
the approximate detector's recall against the exact one.
"""

from __future__ import annotations

import numpy as np

from seambench import Option, hookimpl
from seambench_plugins.knn_backends import BACKENDS, make_search, resolve_backend


def _check_k(k: int, n_train: int) -> int:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if n_train < k:
        raise ValueError(f"k={k} is more than the {n_train} training points")
    return k


class MeanNeighbourDistance:
    """The kNN score every neighbour detector shares, from its ``kneighbors(features)``.

    Score = mean distance to the k nearest nominal-train points; ``neighbors`` gives the indices,
    from which the leaderboard computes an approximate detector's recall against an exact one.
    """

    def kneighbors(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def score(self, features: np.ndarray) -> np.ndarray:
        distances, _ = self.kneighbors(features)
        return distances.mean(axis=1)

    def neighbors(self, features: np.ndarray) -> np.ndarray:
        return self.kneighbors(features)[1]


class ExactKNN(MeanNeighbourDistance):
    """Exact neighbours by brute force, on the fastest backend for the metric (see knn_backends)."""

    exact = True

    def __init__(self, k: int, metric: str, backend: str = "auto") -> None:
        self.k, self.metric = k, metric
        self.backend = resolve_backend(backend, metric)

    def fit(self, features: np.ndarray) -> "ExactKNN":
        _check_k(self.k, features.shape[0])
        self.index = make_search(self.backend, self.metric).fit(features)
        return self

    def kneighbors(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.index.kneighbors(features, self.k)


class NNDescentKNN(MeanNeighbourDistance):
    """Approximate neighbours with an NN-descent graph (pynndescent)."""

    exact = False

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

    def kneighbors(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices, distances = self.index.query(features, k=self.k)
        return distances, indices

    def warm_up(self) -> None:
        """Compile pynndescent's numba kernels before any cell is timed (tens of seconds, once per process).

        pynndescent compiles further specialisations for wide data (a first fit on 352 × 1280
        lite0 features compiled for 17 s more), so it warms up on narrow and on wide data.
        """
        rng = np.random.default_rng(0)
        for width in (8, 2048):
            x = rng.random((400, width), dtype=np.float32)
            NNDescentKNN(2, self.metric, 8, 0).fit(x).score(x[:4])


@hookimpl
def register_detectors(register) -> None:
    register(
        "knn",
        ExactKNN,
        options=[
            Option("k", int, 5, "neighbours averaged (the study found 3-7 best)"),
            Option("metric", str, "euclidean", "distance (any scikit-learn metric)"),
            Option("backend", str, "auto", f"exact search: {'|'.join(BACKENDS)} (auto: the fastest measured for euclidean, else sklearn)"),
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
