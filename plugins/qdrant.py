"""The `qdrant` detector: nominal-train features stored in a Qdrant collection, scored by kNN over it.

The reference study kept its embeddings in Qdrant. The score is the one `knn` gives (mean Euclidean
distance to the k nearest nominal-train points), so on the same data its AUROC is exact kNN's.

Where the collection lives: with no ``url`` Qdrant runs embedded in this process (qdrant-client's
local mode, no server) and stores the collection under the seambench cache, in a folder named by
the hash of the vectors it holds, so refitting on the same features reuses it. Detectors are not
handed the run folder, which is why the cache is the home; ``path=`` puts it elsewhere and
``path=:memory:`` keeps it in memory only. With ``url=`` the collection goes to that server.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from seambench import Option, hookimpl
from seambench_plugins.detectors import MeanNeighbourDistance

COLLECTION = "seambench"
UPLOAD_BATCH = 1024


def vectors_key(features: np.ndarray) -> str:
    """Content hash of the reference vectors (shape and bytes): names the collection."""
    array = np.ascontiguousarray(features, dtype=np.float32)
    h = hashlib.sha256(str(array.shape).encode())
    h.update(array.tobytes())
    return h.hexdigest()[:24]


class QdrantKNN(MeanNeighbourDistance):
    """kNN over a Qdrant collection (Euclidean distance); same score as `knn`."""

    exact = True  # local mode compares every stored point; on a server the search is asked to be exact (no HNSW)

    def __init__(self, k: int, url: str = "", path: str = "", api_key: str = "") -> None:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if url and path:
            raise ValueError("give either url= (a Qdrant server) or path= (embedded local mode), not both")
        self.k, self.url, self.path, self.api_key = k, url, path, api_key
        self.metric = "euclidean"
        self._memory_client: Any = None

    @contextmanager
    def client(self) -> Iterator[Any]:
        """An open client; a local one is closed after use, so its folder lock never outlives a call."""
        from qdrant_client import QdrantClient

        if self.url:
            client = QdrantClient(url=self.url, api_key=self.api_key or None)
        elif self.path == ":memory:":
            self._memory_client = self._memory_client or QdrantClient(location=":memory:")
            yield self._memory_client
            return
        else:
            client = QdrantClient(path=str(self.folder))
        try:
            yield client
        finally:
            client.close()

    def fit(self, features: np.ndarray) -> "QdrantKNN":
        from qdrant_client import models

        features = np.ascontiguousarray(features, dtype=np.float32)
        n, d = features.shape
        if n < self.k:
            raise ValueError(f"k={self.k} is more than the {n} training points")
        self.key = vectors_key(features)
        self.collection = COLLECTION if not self.url else f"{COLLECTION}-{self.key}"
        if not self.url and self.path != ":memory:":
            root = Path(self.path) if self.path else _cache_root()
            self.folder = root / self.key
            self.folder.mkdir(parents=True, exist_ok=True)
        with self.client() as client:
            if client.collection_exists(self.collection):
                if client.count(self.collection, exact=True).count == n:
                    return self  # the same vectors are already stored (the name is their hash)
                client.delete_collection(self.collection)
            client.create_collection(self.collection, vectors_config=models.VectorParams(size=d, distance=models.Distance.EUCLID))
            for start in range(0, n, UPLOAD_BATCH):
                chunk = features[start : start + UPLOAD_BATCH]
                client.upsert(self.collection, points=models.Batch(ids=list(range(start, start + len(chunk))), vectors=chunk.tolist()), wait=True)
        return self

    def kneighbors(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from qdrant_client import models

        features = np.asarray(features, dtype=np.float32)
        distances = np.empty((features.shape[0], self.k), dtype=np.float64)
        indices = np.empty((features.shape[0], self.k), dtype=np.int64)
        params = models.SearchParams(exact=True) if self.url else None  # local mode is always exact
        with self.client() as client:
            for start in range(0, features.shape[0], UPLOAD_BATCH):
                chunk = features[start : start + UPLOAD_BATCH]
                requests = [models.QueryRequest(query=v.tolist(), limit=self.k, params=params) for v in chunk]
                for i, response in enumerate(client.query_batch_points(self.collection, requests=requests)):
                    points = response.points
                    if len(points) != self.k:
                        raise ValueError(f"Qdrant returned {len(points)} neighbours, expected k={self.k}")
                    distances[start + i] = [p.score for p in points]  # Euclid: the score is the distance
                    indices[start + i] = [int(p.id) for p in points]
        return distances, indices


def _cache_root() -> Path:
    from seambench.paths import cache_dir

    return cache_dir() / "qdrant"


@hookimpl
def register_detectors(register) -> None:
    register(
        "qdrant",
        QdrantKNN,
        options=[
            Option("k", int, 5, "neighbours averaged"),
            Option("url", str, "", "a Qdrant server (e.g. http://localhost:6333); empty: embedded local mode, no server"),
            Option("path", str, "", "local mode's storage folder (empty: the seambench cache; :memory: for none)"),
            Option("api_key", str, "", "API key for the server at url"),
        ],
        help="kNN over a Qdrant collection (embedded local mode by default), same score as knn",
    )
