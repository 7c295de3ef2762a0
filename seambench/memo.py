"""Reuse a fixed backbone's embeddings across the splits of one run.

A backbone that does not train embeds an image the same way whatever the split, so a multi-split
run (seeds, leave-one-setting-out) computes each image once and looks it up afterwards, keyed by
the image's content hash. (A persistent cache across runs is a separate concern.)
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from seambench.data import digest_array


class EmbeddingMemo:
    """Wraps a backbone without ``fit``; ``computed`` counts the images really embedded."""

    def __init__(self, inner: Any) -> None:
        if hasattr(inner, "fit"):
            raise TypeError("a backbone that trains depends on its split; it cannot be memoised")
        self.inner = inner
        self.computed = 0
        self._store: dict[str, np.ndarray] = {}

    @property
    def batch_size(self) -> int:
        return int(getattr(self.inner, "batch_size", 32))

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes not defined here (write_artifacts, identity, ...).
        return getattr(self.inner, name)

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        digests = [digest_array(np.asarray(image)) for image in images]
        todo = [d for d in dict.fromkeys(digests) if d not in self._store]
        if todo:
            first: dict[str, int] = {}
            for i, d in enumerate(digests):
                first.setdefault(d, i)
            features = np.asarray(self.inner.embed([images[first[d]] for d in todo]), dtype=np.float32)
            if features.ndim != 2 or features.shape[0] != len(todo):
                return features  # let the runner report the bad shape
            for d, f in zip(todo, features):
                self._store[d] = f
            self.computed += len(todo)
        return np.stack([self._store[d] for d in digests])
