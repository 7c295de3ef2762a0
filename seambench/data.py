"""What a dataset plugin hands the harness: image records with settings, labels and content hashes.

Images are loaded lazily (``record.load()``), so a run over many images never has to hold them all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

PASS = "PASS"
FAIL = "FAIL"


@dataclass(frozen=True)
class ImageRecord:
    """One image: a stable key, its machine setting, an optional PASS/FAIL label, its content hash."""

    key: str
    setting: str
    label: str | None
    digest: str
    load: Callable[[], np.ndarray] = field(compare=False, repr=False)


@dataclass(frozen=True)
class Dataset:
    """A set of images with settings; ``default_holdout`` names the settings that fail."""

    spec: str
    records: tuple[ImageRecord, ...]
    default_holdout: tuple[str, ...] = ()

    @property
    def settings(self) -> tuple[str, ...]:
        return tuple(sorted({r.setting for r in self.records}))

    @property
    def fingerprint(self) -> str:
        """Hash of every image's content, setting and label, independent of record order."""
        h = hashlib.sha256()
        for line in sorted(f"{r.digest}|{r.setting}|{r.label}" for r in self.records):
            h.update(line.encode())
            h.update(b"\n")
        return h.hexdigest()


def digest_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest_file(path: Path) -> str:
    """sha256 of a file's bytes, read in blocks (weights files are hundreds of MB)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def digest_array(image: np.ndarray) -> str:
    """Content hash of a decoded image (shape and pixels)."""
    h = hashlib.sha256(str(image.shape).encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()


def to_gray_uint8(image: np.ndarray) -> np.ndarray:
    """Grayscale uint8 H×W from whatever a decoder gave (RGB, RGBA, 16-bit, float in [0, 1])."""
    arr = np.asarray(image)
    if arr.ndim == 3:
        if arr.shape[2] == 4:
            arr = arr[..., :3]
        if arr.shape[2] == 3:
            arr = arr.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        else:
            arr = arr[..., 0]
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.uint16:
        return (arr >> 8).astype(np.uint8)
    arr = arr.astype(np.float32)
    if arr.max(initial=0.0) <= 1.0:
        arr = arr * 255.0
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


def load_batch(records: Sequence[ImageRecord]) -> list[np.ndarray]:
    return [r.load() for r in records]
