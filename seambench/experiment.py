"""From a matrix to a finished run folder: resolve, validate, split, prove, run, write.

Everything a user can get wrong is checked in ``prepare`` before a run folder exists, so a bad
spec or an unknown setting leaves nothing behind.
"""

from __future__ import annotations

import importlib.metadata
import platform
import sys
import time
import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from seambench.data import Dataset
from seambench.errors import LeakageError, SeambenchError, SpecError, WeightsUnavailable
from seambench.matrix import Matrix
from seambench.plugins import Registry
from seambench.protocol import Split, leakage_proof, make_split, require_settings_to_train, resolve_holdout
from seambench.results import new_run_id, write_run
from seambench.runner import WARMUP_SECONDS, BackboneJob, CellResult, Observer, run_matrix
from seambench.significance import StatsSettings
from seambench.specs import ComponentSpec

VERSIONED = ("seambench", "numpy", "torch", "timm", "scikit-learn", "umap-learn", "pynndescent", "pluggy", "pandas")


class Unavailable:
    """Stands in for a backbone whose weights cannot be had; its cells become `skipped`."""

    def __init__(self, reason: WeightsUnavailable) -> None:
        self.reason = reason

    def embed(self, images: Sequence[Any]) -> Any:
        raise self.reason


@dataclass(frozen=True)
class PreparedRun:
    matrix: Matrix
    dataset_spec: ComponentSpec
    dataset: Dataset
    split: Split
    backbones: tuple[ComponentSpec, ...]
    reducers: tuple[ComponentSpec, ...]
    detectors: tuple[ComponentSpec, ...]
    jobs: tuple[BackboneJob, ...]
    leakage: dict[str, Any]


def _unique(specs: list[ComponentSpec]) -> tuple[ComponentSpec, ...]:
    """Two spellings of one component are one row."""
    return tuple({s.label: s for s in specs}.values())


def _build(spec: ComponentSpec) -> Any:
    try:
        return spec.build()
    except (SeambenchError, WeightsUnavailable):
        raise
    except (ValueError, TypeError) as exc:
        raise SpecError(f"{spec.kind} {spec.label!r}: {exc}") from None


def build_dataset(registry: Registry, text: str) -> tuple[ComponentSpec, Dataset]:
    spec = registry.resolve("dataset", text)
    dataset = _build(spec)
    if not isinstance(dataset, Dataset):
        raise SeambenchError(f"dataset {spec.label!r} (plugin {spec.definition.plugin}) did not return a seambench.Dataset")
    return spec, dataset


def prepare(matrix: Matrix, registry: Registry) -> PreparedRun:
    registry.resolve("dataset", matrix.dataset)  # every spec is checked before any data is made
    backbones = _unique([registry.resolve("backbone", s) for s in matrix.backbones])
    reducers = _unique([registry.resolve("reducer", s) for s in matrix.reducers])
    detectors = _unique([registry.resolve("detector", s) for s in matrix.detectors])
    for spec in reducers + detectors:
        _build(spec)  # option values checked now, not halfway through the run
    dataset_spec, dataset = build_dataset(registry, matrix.dataset)
    holdout = resolve_holdout(dataset, matrix.holdout)
    split = make_split(dataset, holdout, test_fraction=matrix.test_fraction, seed=matrix.seed)

    jobs = []
    training_sets = {}
    for spec in backbones:
        try:
            built = _build(spec)
        except WeightsUnavailable as exc:
            built = Unavailable(exc)
        if hasattr(built, "fit"):
            require_settings_to_train(split, f"backbone {spec.label}")
            training_sets[f"backbone {spec.label}"] = split.training_images().records
        jobs.append(BackboneJob(spec, built, reducers, detectors, split))
    proof = leakage_proof(split, training_sets)
    return PreparedRun(matrix, dataset_spec, dataset, split, backbones, reducers, detectors, tuple(jobs), proof)


def safe_name(label: str) -> str:
    """A spec label as a folder name."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", label)


def versions(names: Sequence[str] = VERSIONED) -> dict[str, str]:
    """Python's and the named packages' versions, for provenance."""
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def run_info(prepared: PreparedRun, run_id: str, started: str, argv: Sequence[str]) -> dict[str, Any]:
    d, split = prepared.dataset, prepared.split
    per_setting: dict[str, int] = {}
    for r in d.records:
        per_setting[r.setting] = per_setting.get(r.setting, 0) + 1
    return {
        "run_id": run_id,
        "status": "running",
        "started": started,
        "command": " ".join(argv),
        "matrix_source": prepared.matrix.source,
        "seed": split.seed,
        "test_fraction": split.test_fraction,
        "versions": versions(),
        "platform": platform.platform(),
        "dataset": {
            **prepared.dataset_spec.to_json(),
            "fingerprint": d.fingerprint,
            "images": len(d.records),
            "settings": list(d.settings),
            "images_per_setting": per_setting,
            "default_holdout": list(d.default_holdout),
        },
        "holdout": list(split.holdout),
        "split": split.sizes(),
        "leakage": dict(prepared.leakage),
        "components": {
            "backbones": [s.to_json() for s in prepared.backbones],
            "reducers": [s.to_json() for s in prepared.reducers],
            "detectors": [s.to_json() for s in prepared.detectors],
        },
        "images_embedded": {},
    }


class _Counting:
    """Passes events on and counts images embedded per backbone (run.json shows each image once).

    ``split_name`` (multi-split runs) is added to the progress bars' labels, not to the counts.
    """

    def __init__(self, inner: Observer | None, counts: dict[str, int], trained_on: dict[str, Any], split_name: str = "") -> None:
        self.inner, self.counts, self.trained_on, self.split_name = inner, counts, trained_on, split_name

    def _bar(self, label: str) -> str:
        return f"{label} [{self.split_name}]" if self.split_name else label

    def backbone_started(self, label: str, n_images: int) -> None:
        if self.inner is not None:
            self.inner.backbone_started(self._bar(label), n_images)

    def images_embedded(self, label: str, n: int) -> None:
        self.counts[label] = self.counts.get(label, 0) + n
        if self.inner is not None:
            self.inner.images_embedded(self._bar(label), n)

    def cell_finished(self, cell: CellResult) -> None:
        if self.inner is not None:
            self.inner.cell_finished(cell)

    def training_progress(self, label: str, epoch: int, epochs: int) -> None:
        inner = getattr(self.inner, "training_progress", None)
        if inner is not None:
            inner(label, epoch, epochs)

    def training_verified(self, label: str, proof: dict[str, Any]) -> None:
        self.trained_on[label] = proof


def execute(
    prepared: PreparedRun,
    results_root: Path,
    observer: Observer | None = None,
    argv: Sequence[str] = (),
    use_cache: bool = True,
    stats: StatsSettings = StatsSettings(),
    embeddings_dtype: str = "float32",
) -> tuple[Path, list[CellResult]]:
    """Run every cell and write the run folder, after every backbone and at the end."""
    run_id = new_run_id(results_root, prepared.dataset_spec.name)
    folder = results_root / run_id
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    info = run_info(prepared, run_id, started, argv or sys.argv)
    info["statistics"] = stats.to_json()
    info["embeddings_dtype"] = embeddings_dtype
    cells: list[CellResult] = []
    split = prepared.split
    test_records, anomaly = list(split.test), list(split.test_anomaly)
    t0 = time.perf_counter()

    def checkpoint(new_cells: list[CellResult]) -> None:
        cells.extend(new_cells)
        write_run(folder, info, cells, test_records, anomaly)

    write_run(folder, info, cells, test_records, anomaly)
    try:
        jobs = [
            replace(job, artifacts_dir=folder / "backbones" / safe_name(job.backbone.label), use_cache=use_cache,
                    embeddings_dtype=embeddings_dtype)
            for job in prepared.jobs
        ]
        trained_on = info["leakage"].setdefault("trained_on", {})
        run_matrix(jobs, _Counting(observer, info["images_embedded"], trained_on), on_backbone_done=checkpoint)
        info["status"] = "finished"
    except KeyboardInterrupt:
        info["status"] = "interrupted"
        raise
    except SeambenchError as exc:  # leakage found after training: the run stops, run.json says why
        info["status"] = "failed"
        info["error"] = str(exc)
        if isinstance(exc, LeakageError):
            info["leakage"]["passed"] = False
        raise
    finally:
        info["embedding_cache"] = {
            c.backbone: c.embedding_cache for c in cells if c.status == "ok"
        }
        info["cells_from_cache"] = sum(c.cached for c in cells)
        info["warmup_seconds"] = {k: round(v, 3) for k, v in WARMUP_SECONDS.items()}
        info["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        info["seconds"] = round(time.perf_counter() - t0, 3)
        write_run(folder, info, cells, test_records, anomaly)
    return folder, cells
