"""Built-in reducers: none, pca, umap. Each is fitted on nominal-train features only."""

from __future__ import annotations

import numpy as np

from seambench import Option, hookimpl


class Identity:
    """Features pass through unchanged (the control row)."""

    def fit(self, features: np.ndarray) -> "Identity":
        return self

    def transform(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features, dtype=np.float32)


class PCAReducer:
    """Principal components; ``d`` is clipped to what the training set can support."""

    def __init__(self, d: int, whiten: bool, seed: int) -> None:
        self.d, self.whiten, self.seed = d, whiten, seed

    def fit(self, features: np.ndarray) -> "PCAReducer":
        from sklearn.decomposition import PCA

        d = min(self.d, features.shape[0], features.shape[1])
        self.model = PCA(n_components=d, whiten=self.whiten, random_state=self.seed).fit(features)
        return self

    def transform(self, features: np.ndarray) -> np.ndarray:
        return self.model.transform(features).astype(np.float32)


class UMAPReducer:
    """UMAP fitted on nominal-train; test points are placed with ``transform``."""

    def __init__(self, d: int, n_neighbors: int, min_dist: float, metric: str, seed: int) -> None:
        self.d, self.n_neighbors, self.min_dist, self.metric, self.seed = d, n_neighbors, min_dist, metric, seed

    def fit(self, features: np.ndarray) -> "UMAPReducer":
        import umap

        n = features.shape[0]
        if n < 4:
            raise ValueError(f"umap needs at least 4 training images, got {n}")
        self.model = umap.UMAP(
            n_components=min(self.d, n - 2),
            n_neighbors=max(2, min(self.n_neighbors, n - 1)),
            min_dist=self.min_dist,
            metric=self.metric,
            random_state=self.seed,
            n_jobs=1,
        ).fit(features)
        return self

    def transform(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.transform(features), dtype=np.float32)

    def warm_up(self) -> None:
        """Compile UMAP's numba kernels on a tiny problem, so cells time only their own work."""
        x = np.random.default_rng(0).random((64, 8), dtype=np.float32)
        UMAPReducer(2, 5, self.min_dist, self.metric, 0).fit(x).transform(x[:4])


@hookimpl
def register_reducers(register) -> None:
    register("none", Identity, help="no reduction: the backbone's features as they are")
    register(
        "pca",
        PCAReducer,
        options=[
            Option("d", int, 32, "number of components (clipped to the training set's rank)"),
            Option("whiten", bool, False, "scale components to unit variance"),
            Option("seed", int, 0, "random state of the randomized solver"),
        ],
        help="principal component analysis (scikit-learn)",
    )
    register(
        "umap",
        UMAPReducer,
        options=[
            Option("d", int, 16, "output dimensions (the study found 10-50 best)"),
            Option("n_neighbors", int, 15, "size of the local neighbourhood"),
            Option("min_dist", float, 0.1, "how tightly points may pack"),
            Option("metric", str, "euclidean", "distance in the input space"),
            Option("seed", int, 0, "random state (fixed for reproducible rows)"),
        ],
        help="UMAP manifold embedding (umap-learn)",
    )
