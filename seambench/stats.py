"""How sure a leaderboard can be: bootstrap CIs of AUROC and DeLong's test for correlated ROC curves.

Everything works from per-image scores (higher = more anomalous) and anomaly labels, so it can be
recomputed for any finished run from its scores.parquet. Several cells scored on the same test
images are passed together as a (cells, images) matrix: their bootstrap resamples are shared
(paired), and DeLong's covariance between them is what makes a paired test possible.

DeLong, DeLong & Clarke-Pearson (1988), in the midrank form of Sun & Xu (2014).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata


def _as_matrix(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positive and negative scores as (cells, m) and (cells, n) arrays, after checking the inputs."""
    labels = np.asarray(labels, dtype=bool).reshape(-1)
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    if scores.shape[1] != labels.shape[0]:
        raise ValueError(f"{scores.shape[1]} scores per cell for {labels.shape[0]} labels")
    if labels.all() or not labels.any():
        raise ValueError("AUROC needs both anomalies and nominal images among the test images")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite")
    return labels, scores[:, labels], scores[:, ~labels]


@dataclass(frozen=True)
class DeLong:
    """AUROCs of several cells on the same images and the covariance of their estimates."""

    auroc: np.ndarray  # (cells,)
    cov: np.ndarray  # (cells, cells)

    def variance(self, i: int) -> float:
        return float(self.cov[i, i])

    def difference(self, i: int, j: int) -> tuple[float, float]:
        """AUROC[i] - AUROC[j] and the variance of that difference (paired: covariance subtracted)."""
        diff = float(self.auroc[i] - self.auroc[j])
        var = float(self.cov[i, i] + self.cov[j, j] - 2.0 * self.cov[i, j])
        return diff, max(var, 0.0)


def delong(labels: np.ndarray, scores: np.ndarray) -> DeLong:
    """DeLong's AUROC estimates and covariance for every row of ``scores`` (shape (cells, images))."""
    _, pos, neg = _as_matrix(labels, scores)
    m, n = pos.shape[1], neg.shape[1]
    tx = rankdata(pos, axis=1)
    ty = rankdata(neg, axis=1)
    tz = rankdata(np.concatenate([pos, neg], axis=1), axis=1)
    # Placement values: for each anomaly, the share of nominal images it outranks (ties count half),
    # and for each nominal image, the share of anomalies that outrank it.
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    auroc = v10.mean(axis=1)
    cells = pos.shape[0]
    s10 = np.cov(v10).reshape(cells, cells) if m > 1 else np.zeros((cells, cells))
    s01 = np.cov(v01).reshape(cells, cells) if n > 1 else np.zeros((cells, cells))
    return DeLong(auroc, s10 / m + s01 / n)


def two_sided_p(diff: float, var: float) -> float:
    """Normal-approximation p-value of a difference; a zero-variance difference is certain."""
    if var <= 0.0:
        return 1.0 if abs(diff) < 1e-12 else 0.0
    return float(2.0 * norm.sf(abs(diff) / np.sqrt(var)))


def normal_ci(estimate: float, var: float, level: float = 0.95) -> tuple[float, float]:
    half = float(norm.ppf(0.5 + level / 2.0) * np.sqrt(max(var, 0.0)))
    return estimate - half, estimate + half


def bootstrap_aurocs(labels: np.ndarray, scores: np.ndarray, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """AUROC of each cell on ``n_boot`` stratified resamples, shape (cells, n_boot).

    Anomalies and nominal images are resampled separately (so every resample has both, in the
    original numbers), and every cell sees the same resamples, so rows stay paired. A resample is
    a pair of count vectors; its AUROC is ``c1 @ Psi @ c0 / (m n)`` with Psi the pairwise
    comparison matrix, so no resample is ever materialised.
    """
    if n_boot < 1:
        raise ValueError(f"the number of bootstrap resamples must be at least 1, got {n_boot}")
    _, pos, neg = _as_matrix(labels, scores)
    m, n = pos.shape[1], neg.shape[1]
    rng = np.random.default_rng(seed)
    c1 = rng.multinomial(m, np.full(m, 1.0 / m), size=n_boot).astype(np.float64)
    c0 = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)
    out = np.empty((pos.shape[0], n_boot))
    for k in range(pos.shape[0]):
        diff = pos[k][:, None] - neg[k][None, :]
        psi = (diff > 0).astype(np.float64) + 0.5 * (diff == 0)
        out[k] = np.einsum("bi,ij,bj->b", c1, psi, c0, optimize=True) / (m * n)
    return out


def percentile_ci(samples: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval along the last axis."""
    tail = 100.0 * (1.0 - level) / 2.0
    lo, hi = np.percentile(samples, [tail, 100.0 - tail], axis=-1)
    return lo, hi
