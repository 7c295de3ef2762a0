"""The embedded default stands in for the real data: settings are learnable, C is not given away
by global statistics, and without its defects C is just another setting."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import NearestNeighbors

from seambench.plugins import build_registry
from seambench.protocol import make_split


@pytest.fixture(scope="module")
def registry():
    return build_registry(entry_points=False)


def embed(registry, backbone: str, dataset) -> np.ndarray:
    model = registry.resolve("backbone", backbone).build()
    images = [r.load() for r in dataset.records]
    return np.concatenate([model.embed(images[i : i + 32]) for i in range(0, len(images), 32)])


def knn_auroc(features: np.ndarray, dataset, holdout: str, k: int = 5) -> float:
    """Exact kNN AUROC with ``holdout`` held out, on the harness's own split."""
    split = make_split(dataset, (holdout,), test_fraction=0.2, seed=0)
    row = {r.key: i for i, r in enumerate(dataset.records)}
    train = features[[row[r.key] for r in split.train]]
    test = features[[row[r.key] for r in split.test]]
    distances, _ = NearestNeighbors(n_neighbors=k).fit(train).kneighbors(test)
    return roc_auc_score(split.labels, distances.mean(axis=1))


@pytest.fixture(scope="module")
def no_defects(registry):
    """Severity 0: C differs from the others only as one more setting."""
    dataset = registry.resolve("dataset", "sideseam:per_setting=20,severity=0").build()
    return dataset, embed(registry, "imagenet-lite0", dataset)


def test_linear_probe_on_imagenet_features_tells_nominal_settings_apart(no_defects):
    dataset, features = no_defects
    settings = np.array([r.setting for r in dataset.records])
    nominal = settings != "C"
    accuracy = cross_val_score(LogisticRegression(max_iter=2000), features[nominal], settings[nominal], cv=4).mean()
    chance = 1 / len(set(settings[nominal]))
    assert accuracy > 5 * chance, accuracy


def test_without_defects_c_is_no_easier_than_a_typical_nominal_setting(no_defects):
    dataset, features = no_defects
    aurocs = {s: knn_auroc(features, dataset, s) for s in dataset.settings}
    typical = np.median([v for s, v in aurocs.items() if s != "C"])
    assert aurocs["C"] <= typical, aurocs


def test_histogram_knn_does_not_give_c_away_at_default_options(registry):
    dataset = registry.resolve("dataset", "sideseam").build()
    assert len(dataset.records) == 12 * 40 and dataset.records[0].load().shape == (224, 224)
    features = embed(registry, "histogram", dataset)
    assert knn_auroc(features, dataset, "C") < 0.75
