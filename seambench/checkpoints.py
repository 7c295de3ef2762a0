"""The cache of trained backbones: one folder per key (weights + provenance), written atomically.

The key hashes everything that decides the trained weights — base, options, training-set content,
data fingerprint, held-out settings, seed — so running the same matrix again does not retrain,
and changing any of them does.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seambench.paths import cache_dir

WEIGHTS_FILE = "model.safetensors"
ENTRY_FILE = "entry.json"


def checkpoint_key(inputs: dict[str, Any]) -> str:
    """A stable hash of the key inputs (JSON with sorted keys)."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:24]


def checkpoints_dir() -> Path:
    return cache_dir() / "checkpoints"


@dataclass(frozen=True)
class Checkpoint:
    """A cached trained model: its state dict and the provenance written with it."""

    folder: Path
    state: dict[str, Any]
    entry: dict[str, Any]


def load_checkpoint(kind: str, key: str) -> Checkpoint | None:
    """The cached checkpoint for ``key``, or None (a half-written or unreadable entry counts as none)."""
    folder = checkpoints_dir() / kind / key
    try:
        entry = json.loads((folder / ENTRY_FILE).read_text())
        from safetensors.torch import load_file

        state = load_file(str(folder / WEIGHTS_FILE))
    except (OSError, ValueError):
        return None
    return Checkpoint(folder, state, entry)


def save_checkpoint(kind: str, key: str, state: dict[str, Any], entry: dict[str, Any]) -> Path:
    """Write weights and provenance into a temporary folder, then rename it into place."""
    from safetensors.torch import save_file

    root = checkpoints_dir() / kind
    root.mkdir(parents=True, exist_ok=True)
    final = root / key
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{key}."))
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, str(tmp / WEIGHTS_FILE))
        (tmp / ENTRY_FILE).write_text(json.dumps(entry, indent=2, default=str) + "\n")
        if final.exists():  # another run finished the same training first; keep its entry
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
