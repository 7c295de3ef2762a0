"""The interfaces a plugin's components implement. Plain duck typing: these Protocols document them.

Every stage is a function call on numpy arrays; no stage reaches back into an earlier one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

import numpy as np

from seambench.data import ImageRecord


@dataclass(frozen=True)
class TrainingImages:
    """What a trainable backbone may learn from: nominal-train images and their setting names only.

    The harness builds it from the protocol's split; PASS/FAIL labels, held-out settings and test
    images are not in it, and the leakage proof covers it. ``fingerprint`` (of the whole dataset),
    ``holdout`` and ``seed`` identify the split, so a trained model can be cached and found again.
    ``on_epoch(epoch, epochs)``, when set, lets the harness draw training progress.

    After ``fit`` the harness asks the backbone ``trained_on()`` — the content digests of every
    image it actually trained on — and stops the run with LeakageError if any is not nominal-train.
    """

    records: tuple[ImageRecord, ...]
    settings: tuple[str, ...]
    fingerprint: str = ""
    holdout: tuple[str, ...] = ()
    seed: int = 0
    on_epoch: Callable[[int, int], None] | None = field(default=None, compare=False, repr=False)

    @property
    def content_sha256(self) -> str:
        """One hash of the training set's content (order-free): part of a trained model's cache key."""
        import hashlib

        h = hashlib.sha256()
        for line in sorted(f"{r.digest}|{r.setting}" for r in self.records):
            h.update(line.encode() + b"\n")
        return h.hexdigest()


@runtime_checkable
class Backbone(Protocol):
    """Turns images into feature vectors.

    ``embed`` gets a batch of grayscale uint8 H×W arrays and returns float32 (n, d).
    Optional: ``batch_size: int``; ``fit(training: TrainingImages)`` for backbones that train
    (called once, before any embed), with ``trained_on() -> Iterable[str]`` naming the content
    digests it trained on (checked against nominal-train; without it, the whole training set is
    assumed); ``identity() -> dict`` for cache keys and provenance.
    Raise ``seambench.errors.WeightsUnavailable`` when weights cannot be had: the cells are skipped.
    """

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray: ...


@runtime_checkable
class Reducer(Protocol):
    """Dimensionality reduction fitted on nominal-train features only."""

    def fit(self, features: np.ndarray) -> Any: ...

    def transform(self, features: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class Detector(Protocol):
    """Anomaly scorer fitted on nominal-train features; ``score`` returns higher = more anomalous."""

    def fit(self, features: np.ndarray) -> Any: ...

    def score(self, features: np.ndarray) -> np.ndarray: ...


# Optional backbone method, called after ``fit`` and ``embed`` with a folder inside the run folder
# (results/<run>/backbones/<label>/): ``write_artifacts(folder: Path) -> None``. Finetuned backbones
# write their training curves there.
