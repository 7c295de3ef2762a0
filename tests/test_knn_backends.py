"""Exact kNN backends agree with scikit-learn; the `knn` detector's backend option; the qdrant detector."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors

from seambench_plugins.detectors import ExactKNN
from seambench_plugins.knn_backends import FASTEST_EUCLIDEAN, make_search, resolve_backend
from seambench_plugins.qdrant import QdrantKNN


def clustered(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 5, (8, d))
    return (centers[rng.integers(0, 8, n)] + rng.normal(0, 1, (n, d))).astype(np.float32)


@pytest.mark.parametrize("backend", ["sklearn", "torch", "faiss"])
@pytest.mark.parametrize("d", [3, 64, 700])
def test_backends_match_sklearn(backend, d):
    refs, queries = clustered(1500, d, 0), clustered(300, d, 1)
    want_d, want_i = NearestNeighbors(n_neighbors=7, algorithm="brute").fit(refs).kneighbors(queries)
    got_d, got_i = make_search(backend).fit(refs).kneighbors(queries, 7)
    np.testing.assert_array_equal(got_i, want_i)
    np.testing.assert_allclose(got_d, want_d, rtol=1e-5, atol=1e-6)


def test_knn_scores_are_the_mean_distance_on_every_backend():
    refs, queries = clustered(400, 16, 2), clustered(50, 16, 3)
    want = NearestNeighbors(n_neighbors=5).fit(refs).kneighbors(queries)[0].mean(axis=1)
    for backend in ("auto", "sklearn", "torch", "faiss"):
        np.testing.assert_allclose(ExactKNN(5, "euclidean", backend).fit(refs).score(queries), want, rtol=1e-5)


def test_backend_choice_and_errors():
    assert resolve_backend("auto", "euclidean") == FASTEST_EUCLIDEAN
    assert resolve_backend("auto", "manhattan") == "sklearn"
    with pytest.raises(ValueError, match="Euclidean distance only"):
        resolve_backend("torch", "manhattan")
    with pytest.raises(ValueError, match="choose one of auto, sklearn, torch, faiss"):
        resolve_backend("gpu", "euclidean")
    with pytest.raises(ValueError, match="k=9 is more than the 4 training points"):
        ExactKNN(9, "euclidean").fit(np.zeros((4, 2), dtype=np.float32))


def test_knn_backend_is_a_spec_option(tmp_path):
    from seambench.plugins import build_registry

    spec = build_registry(entry_points=False).resolve("detector", "knn:k=3,backend=faiss")
    assert spec.build().backend == "faiss"


@pytest.mark.parametrize("path", ["folder", ":memory:"])
def test_qdrant_scores_and_auroc_match_exact_knn(tmp_path, path):
    train = clustered(300, 12, 4)
    rng = np.random.default_rng(5)
    nominal, anomalies = clustered(60, 12, 6), clustered(20, 12, 7) + rng.normal(0, 3, (20, 12)).astype(np.float32)
    test = np.vstack([nominal, anomalies])
    labels = np.r_[np.zeros(60), np.ones(20)]
    folder = str(tmp_path / "q") if path == "folder" else path
    qdrant = QdrantKNN(5, path=folder).fit(train)
    exact = NearestNeighbors(n_neighbors=5).fit(train)
    want = exact.kneighbors(test)[0].mean(axis=1)
    got = qdrant.score(test)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert roc_auc_score(labels, got) == roc_auc_score(labels, want)
    np.testing.assert_array_equal(qdrant.neighbors(test), exact.kneighbors(test)[1])
    if path == "folder":  # the collection lives in that folder, named by the vectors' hash, and is reused
        (stored,) = (tmp_path / "q").iterdir()
        assert stored.name == qdrant.key
        again = QdrantKNN(5, path=folder).fit(train)
        np.testing.assert_allclose(again.score(test), want, rtol=1e-5)


def test_qdrant_defaults_to_the_cache_folder(tmp_path):
    from seambench.paths import cache_dir

    train = clustered(50, 4, 8)
    detector = QdrantKNN(3).fit(train)
    assert detector.folder.parent == cache_dir() / "qdrant"
    assert len(detector.score(train[:5])) == 5


def test_qdrant_option_errors():
    with pytest.raises(ValueError, match="either url= .* or path="):
        QdrantKNN(5, url="http://localhost:6333", path="x")
    with pytest.raises(ValueError, match="k=5 is more than the 3 training points"):
        QdrantKNN(5, path=":memory:").fit(np.zeros((3, 2), dtype=np.float32))
