"""Bootstrap CIs and DeLong's test against independent computations (scikit-learn AUROC, explicit resampling)."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from seambench.significance import StatsSettings, row_statistics
from seambench.stats import bootstrap_aurocs, delong, percentile_ci, two_sided_p


def correlated_scores(seed: int = 3, n_pos: int = 40, n_neg: int = 90):
    """Two detectors sharing most of their noise (as rows of one run do), a third unrelated one, with ties."""
    rng = np.random.default_rng(seed)
    labels = np.r_[np.ones(n_pos, bool), np.zeros(n_neg, bool)]
    shared = rng.normal(size=labels.size)
    a = labels * 1.0 + shared + 0.4 * rng.normal(size=labels.size)
    b = labels * 0.4 + shared + 0.4 * rng.normal(size=labels.size)
    c = np.round(labels * 0.3 + rng.normal(size=labels.size), 1)  # rounded: ties
    return labels, np.stack([a, b, c])


def reference_bootstrap(labels, scores, n_boot=1000, seed=11):
    """Stratified paired bootstrap, materialising every resample and scoring it with scikit-learn."""
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(labels), np.flatnonzero(~labels)
    out = np.empty((scores.shape[0], n_boot))
    for b in range(n_boot):
        idx = np.r_[rng.choice(pos, pos.size), rng.choice(neg, neg.size)]
        for k in range(scores.shape[0]):
            out[k, b] = roc_auc_score(labels[idx], scores[k, idx])
    return out


@pytest.fixture(scope="module")
def data():
    labels, scores = correlated_scores()
    return labels, scores, reference_bootstrap(labels, scores)


def test_delong_auroc_is_sklearns_auroc_even_with_ties(data):
    labels, scores, _ = data
    np.testing.assert_allclose(delong(labels, scores).auroc, [roc_auc_score(labels, s) for s in scores], atol=1e-12)


def test_delong_covariance_matches_a_bootstrap(data):
    labels, scores, boot = data
    cov = delong(labels, scores).cov
    ref = np.cov(boot)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), np.sqrt(np.diag(ref)), rtol=0.12)
    # The paired difference is what the leaderboard tests: its spread must match too.
    d_var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    assert np.sqrt(d_var) == pytest.approx(np.std(boot[0] - boot[1], ddof=1), rel=0.15)
    # Correlated rows: pairing shrinks the variance of the difference well below the unpaired one.
    assert d_var < 0.6 * (cov[0, 0] + cov[1, 1])


def test_delong_paired_p_value_agrees_with_the_bootstrap_p_value(data):
    labels, scores, boot = data
    test = delong(labels, scores)
    diff, var = test.difference(0, 1)
    p_delong = two_sided_p(diff, var)
    # Bootstrap p: normal approximation with the bootstrap's own standard error of the difference.
    z_boot = diff / np.std(boot[0] - boot[1], ddof=1)
    p_boot = float(2 * (1 - __import__("scipy").stats.norm.cdf(abs(z_boot))))
    assert p_delong == pytest.approx(p_boot, abs=0.03)
    assert p_delong < 0.05  # detector a is really better than b here


def test_bootstrap_ci_matches_explicit_resampling(data):
    labels, scores, boot = data
    lo, hi = percentile_ci(bootstrap_aurocs(labels, scores, n_boot=1000, seed=0))
    ref_lo, ref_hi = percentile_ci(boot)
    np.testing.assert_allclose(lo, ref_lo, atol=0.02)
    np.testing.assert_allclose(hi, ref_hi, atol=0.02)
    auroc = np.array([roc_auc_score(labels, s) for s in scores])
    assert np.all(lo < auroc) and np.all(auroc < hi)


def test_bootstrap_is_seeded_and_stratified():
    labels, scores = correlated_scores()
    first = bootstrap_aurocs(labels, scores, 300, seed=5)
    np.testing.assert_array_equal(first, bootstrap_aurocs(labels, scores, 300, seed=5))
    assert not np.array_equal(first, bootstrap_aurocs(labels, scores, 300, seed=6))
    # A perfect separator stays perfect in every stratified resample (each has both classes).
    perfect = np.where(labels, 2.0, 1.0)[None, :] + np.linspace(0, 0.1, labels.size)
    assert np.all(bootstrap_aurocs(labels, perfect, 200, seed=0) == 1.0)


def test_row_statistics_marks_rows_tied_with_the_best():
    labels, scores = correlated_scores()
    rng = np.random.default_rng(0)
    rows = {"good": scores[0], "near-copy": scores[0] + 1e-3 * rng.normal(size=labels.size), "noise": rng.normal(size=labels.size)}
    stats = row_statistics(labels, rows, StatsSettings(bootstrap=300, ci_seed=1))
    best = max(rows, key=lambda k: roc_auc_score(labels, rows[k]))
    assert stats[best].p_vs_best == 1.0 and stats[best].tied_best
    assert stats["good"].tied_best and stats["near-copy"].tied_best
    assert not stats["noise"].tied_best and stats["noise"].p_vs_best < 0.05
    for key, s in stats.items():
        assert s.auroc_lo <= roc_auc_score(labels, rows[key]) <= s.auroc_hi
