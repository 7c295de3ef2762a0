"""Content-addressed embedding cache: the second identical run reuses every embedding.

An entry's key hashes what determines the features: the backbone's spec and ``identity()``
(weights hash, preprocessing), the version of the embedding code, and the content hashes of the
images embedded. Entries are checksummed; one that fails its checksum is recomputed, never trusted.
Features are stored as a plain .npy (float32, or float16 on request) and memory-mapped on read.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from seambench.errors import SeambenchError
from seambench.data import digest_file
from seambench.paths import cache_dir

# Bump when the way features are computed changes, so old entries are not reused.
EMBEDDING_CODE_VERSION = 2  # 2: channels-last forward pass (features move ~1e-6)


@dataclass(frozen=True)
class CacheEntry:
    key: str
    path: Path


def embeddings_root() -> Path:
    return cache_dir() / "embeddings"


EMBEDDING_DTYPES = ("float32", "float16")


def entry_key(backbone_label: str, identity: dict[str, Any], digests: Sequence[str], dtype: str = "float32") -> str:
    """float16 entries get their own keys (float32 keys are unchanged), so neither is mistaken for the other."""
    if dtype not in EMBEDDING_DTYPES:
        raise SeambenchError(f"embeddings dtype {dtype!r}: choose one of {', '.join(EMBEDDING_DTYPES)}")
    h = hashlib.sha256()
    described = {"backbone": backbone_label, "identity": identity, "code": EMBEDDING_CODE_VERSION}
    if dtype != "float32":
        described["dtype"] = dtype
    h.update(json.dumps(described, sort_keys=True, default=str).encode())
    for d in digests:
        h.update(d.encode())
    return h.hexdigest()[:32]


def load(key: str) -> np.ndarray | None:
    """The cached features for ``key``, memory-mapped; None when absent or corrupt (and then removed)."""
    folder = embeddings_root() / key
    features, meta = folder / "features.npy", folder / "meta.json"
    if not features.is_file() or not meta.is_file():
        return None
    try:
        info = json.loads(meta.read_text())
        if digest_file(features) != info["sha256"]:
            raise ValueError("checksum mismatch")
        array = np.load(features, mmap_mode="r")
        if list(array.shape) != info["shape"]:
            raise ValueError("shape mismatch")
        return array
    except (ValueError, KeyError, OSError, json.JSONDecodeError):
        shutil.rmtree(folder, ignore_errors=True)
        return None


def store(key: str, features: np.ndarray, provenance: dict[str, Any], dtype: str = "float32") -> Path:
    """Write an entry atomically: a whole folder renamed into place, or nothing."""
    root = embeddings_root()
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-"))
    try:
        array = np.ascontiguousarray(features, dtype=np.dtype(dtype))
        np.save(tmp / "features.npy", array)
        meta = {"sha256": digest_file(tmp / "features.npy"), "shape": list(array.shape), "dtype": dtype, **provenance}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
        final = root / key
        if final.exists():
            shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        return final
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def info() -> dict[str, Any]:
    """What the cache holds: per kind of entry, how many and how many bytes."""
    root = cache_dir()
    kinds: dict[str, dict[str, int]] = {}
    for sub in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        files = [f for f in sub.rglob("*") if f.is_file()]
        entries = [e for e in sub.iterdir() if not e.name.startswith(".")]
        kinds[sub.name] = {"entries": len(entries), "bytes": sum(f.stat().st_size for f in files)}
    return {"path": str(root), "kinds": kinds}


def clear(kind: str | None = None) -> int:
    """Remove every entry (or every entry of one kind); returns the number of bytes freed."""
    root = cache_dir()
    targets = [root / kind] if kind else [p for p in root.iterdir() if p.is_dir()]
    freed = 0
    for target in targets:
        if target.is_dir():
            freed += sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
            shutil.rmtree(target)
    return freed


def cells_root() -> Path:
    return cache_dir() / "cells"


def cell_key(embedding_key: str, split_key: str, reducer_label: str, detector_label: str) -> str:
    """A cell's result is a function of its features, its split and its two component specs."""
    text = json.dumps([embedding_key, split_key, reducer_label, detector_label, EMBEDDING_CODE_VERSION])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def split_key(train_digests: Sequence[str], test_digests: Sequence[str], test_anomaly: Sequence[bool]) -> str:
    h = hashlib.sha256()
    for part in (train_digests, test_digests):
        for d in part:
            h.update(d.encode())
        h.update(b"|")
    h.update(bytes(bytearray(int(a) for a in test_anomaly)))
    return h.hexdigest()


def load_cell(key: str) -> tuple[np.ndarray, dict[str, float]] | None:
    """A finished cell's per-image scores and stage seconds; None when absent or unreadable."""
    path = cells_root() / f"{key}.npz"
    if not path.is_file():
        return None
    try:
        with np.load(path) as data:  # zip members carry CRCs: a damaged file fails to read
            scores = np.array(data["scores"])
            seconds = json.loads(str(data["seconds"]))
        return scores, seconds
    except Exception:
        path.unlink(missing_ok=True)
        return None


def store_cell(key: str, scores: np.ndarray, seconds: dict[str, float]) -> None:
    root = cells_root()
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".tmp-", suffix=".npz")
    os.close(fd)
    try:
        np.savez(tmp, scores=np.asarray(scores, dtype=np.float64), seconds=np.array(json.dumps(seconds)))
        os.replace(tmp, root / f"{key}.npz")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_neighbors(key: str | None) -> np.ndarray | None:
    """A finished cell's test-set neighbour indices (kept when a recall needs them); None when absent."""
    if key is None:
        return None
    path = cells_root() / f"{key}.neighbors.npy"
    try:
        return np.load(path) if path.is_file() else None
    except (ValueError, OSError):
        path.unlink(missing_ok=True)
        return None


def store_neighbors(key: str, indices: np.ndarray) -> None:
    root = cells_root()
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".tmp-", suffix=".npy")
    os.close(fd)
    try:
        np.save(tmp, np.asarray(indices, dtype=np.int64))
        os.replace(tmp, root / f"{key}.neighbors.npy")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
