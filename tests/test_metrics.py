import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from seambench.metrics import detection_metrics, fpr_at_tpr


def brute_fpr_at_tpr(labels, scores, target):
    """Lowest FPR over all thresholds 'score >= t' that reach the target TPR."""
    best = 1.0
    for t in np.unique(scores):
        predicted = scores >= t
        tpr = predicted[labels].mean()
        if tpr >= target:
            best = min(best, predicted[~labels].mean())
    return best


@pytest.mark.parametrize("seed", range(5))
def test_metrics_match_sklearn_and_brute_force(seed):
    rng = np.random.default_rng(seed)
    labels = rng.random(200) < 0.3
    scores = rng.normal(size=200) + labels * rng.uniform(0.2, 2.0)
    scores = np.round(scores, 1)  # ties, as real detectors produce
    m = detection_metrics(labels, scores)
    assert m["auroc"] == pytest.approx(roc_auc_score(labels, scores))
    assert m["aupr"] == pytest.approx(average_precision_score(labels, scores))
    assert m["fpr95"] == pytest.approx(brute_fpr_at_tpr(labels, scores, 0.95))


def test_perfect_and_inverted_scores():
    labels = np.array([0, 0, 0, 1, 1], dtype=bool)
    assert detection_metrics(labels, np.array([0.1, 0.2, 0.3, 0.8, 0.9]))["fpr95"] == 0.0
    inverted = detection_metrics(labels, np.array([0.9, 0.8, 0.7, 0.2, 0.1]))
    assert inverted["auroc"] == 0.0 and inverted["fpr95"] == 1.0
    assert fpr_at_tpr(labels, np.array([0.1, 0.5, 0.3, 0.5, 0.9])) == pytest.approx(1 / 3)


def test_non_finite_scores_are_refused():
    with pytest.raises(ValueError, match="not finite"):
        detection_metrics(np.array([0, 1], dtype=bool), np.array([0.0, np.nan]))
