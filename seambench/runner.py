"""The matrix runner: every backbone × reducer × detector on one split.

Each backbone embeds the split once; each reducer is fitted once per backbone; each detector once
per (backbone, reducer). Work is handed out per backbone through an executor, the seam where a
distributed executor (Ray) can replace the local loop without touching the rest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence

import numpy as np

from seambench.data import ImageRecord, load_batch
from seambench.errors import LeakageError, SeambenchError, WeightsUnavailable
from seambench.metrics import detection_metrics
from seambench.protocol import Split, check_trained_on
from seambench.specs import ComponentSpec

OK, ERROR, SKIPPED = "ok", "error", "skipped"


@dataclass
class CellResult:
    """One leaderboard row, with the per-image test scores kept for later statistics."""

    backbone: str
    reducer: str
    detector: str
    status: str
    message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    scores: np.ndarray | None = None

    @property
    def cell(self) -> str:
        return f"{self.backbone} | {self.reducer} | {self.detector}"


class Observer(Protocol):
    """What the runner reports while it works (the CLI draws progress bars from it).

    Optional methods, called only when the observer has them:
    ``training_progress(label, epoch, epochs)`` while a backbone trains, and
    ``training_verified(label, proof)`` once what it trained on has passed the leakage check.
    """

    def backbone_started(self, label: str, n_images: int) -> None: ...
    def images_embedded(self, label: str, n: int) -> None: ...
    def cell_finished(self, cell: CellResult) -> None: ...


class SilentObserver:
    def backbone_started(self, label: str, n_images: int) -> None:
        pass

    def images_embedded(self, label: str, n: int) -> None:
        pass

    def cell_finished(self, cell: CellResult) -> None:
        pass


@dataclass(frozen=True)
class BackboneJob:
    """Everything one backbone's cells need; independent of every other job."""

    backbone: ComponentSpec
    built: Any
    reducers: tuple[ComponentSpec, ...]
    detectors: tuple[ComponentSpec, ...]
    split: Split
    artifacts_dir: Path | None = None  # where the backbone may write files (training curves, ...)


class LocalExecutor:
    """Runs backbone jobs one after another in this process."""

    def map(self, fn: Callable[[BackboneJob], list[CellResult]], jobs: Sequence[BackboneJob]) -> Iterator[list[CellResult]]:
        for job in jobs:
            yield fn(job)


def embed_records(backbone: Any, records: Sequence[ImageRecord], label: str, observer: Observer) -> np.ndarray:
    """Embed records in batches, decoding each batch just before it is needed."""
    batch = max(1, int(getattr(backbone, "batch_size", 32)))
    parts = []
    for start in range(0, len(records), batch):
        chunk = records[start : start + batch]
        features = np.asarray(backbone.embed(load_batch(chunk)), dtype=np.float32)
        if features.ndim != 2 or features.shape[0] != len(chunk):
            raise SeambenchError(
                f"backbone {label} returned features of shape {features.shape} for {len(chunk)} images; expected (n, d)"
            )
        parts.append(features)
        observer.images_embedded(label, len(chunk))
    return np.concatenate(parts)


def _notify(observer: Observer, event: str, *args: Any) -> None:
    method = getattr(observer, event, None)
    if method is not None:
        method(*args)


def fit_backbone(backbone: Any, split: Split, label: str, observer: Observer) -> None:
    """Train a trainable backbone on nominal-train, then prove what it actually trained on.

    A LeakageError here is not a cell error: it stops the whole run.
    """
    training = replace(
        split.training_images(),
        on_epoch=lambda epoch, epochs: _notify(observer, "training_progress", label, epoch, epochs),
    )
    backbone.fit(training)
    trained_on = getattr(backbone, "trained_on", None)
    digests = list(trained_on()) if trained_on is not None else [r.digest for r in training.records]
    proof = check_trained_on(split, digests, label)
    _notify(observer, "training_verified", label, proof)


def _message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def run_backbone(job: BackboneJob, observer: Observer) -> list[CellResult]:
    """All cells of one backbone: embed once, reduce once per reducer, then each detector."""
    b = job.backbone.label
    cells = [(r, d) for r in job.reducers for d in job.detectors]

    def all_cells(status: str, message: str) -> list[CellResult]:
        out = [CellResult(b, r.label, d.label, status, message) for r, d in cells]
        for c in out:
            observer.cell_finished(c)
        return out

    split = job.split
    records = split.train + split.test
    observer.backbone_started(b, len(records))
    t0 = time.perf_counter()
    try:
        if hasattr(job.built, "fit"):
            fit_backbone(job.built, split, b, observer)
        features = embed_records(job.built, records, b, observer)
        write_artifacts = getattr(job.built, "write_artifacts", None)
        if write_artifacts is not None and job.artifacts_dir is not None:
            job.artifacts_dir.mkdir(parents=True, exist_ok=True)
            write_artifacts(job.artifacts_dir)
    except WeightsUnavailable as exc:
        return all_cells(SKIPPED, str(exc))
    except LeakageError:
        raise
    except Exception as exc:
        return all_cells(ERROR, _message(exc))
    embed_s = time.perf_counter() - t0
    train_x, test_x = features[: len(split.train)], features[len(split.train) :]
    labels = split.labels

    results: list[CellResult] = []
    for reducer_spec in job.reducers:
        t0 = time.perf_counter()
        try:
            reducer = reducer_spec.build()
            reducer.fit(train_x)
            train_r = np.asarray(reducer.transform(train_x), dtype=np.float32)
            test_r = np.asarray(reducer.transform(test_x), dtype=np.float32)
            reduce_s = time.perf_counter() - t0
        except Exception as exc:
            for d in job.detectors:
                cell = CellResult(b, reducer_spec.label, d.label, ERROR, _message(exc))
                observer.cell_finished(cell)
                results.append(cell)
            continue
        for detector_spec in job.detectors:
            cell = CellResult(b, reducer_spec.label, detector_spec.label, OK)
            try:
                t0 = time.perf_counter()
                detector = detector_spec.build()
                detector.fit(train_r)
                fit_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                scores = np.asarray(detector.score(test_r), dtype=np.float64).reshape(-1)
                score_s = time.perf_counter() - t0
                if scores.shape[0] != len(split.test):
                    raise SeambenchError(f"detector returned {scores.shape[0]} scores for {len(split.test)} test images")
                cell.metrics = detection_metrics(labels, scores)
                cell.scores = scores
                cell.seconds = {"embed": embed_s, "reduce": reduce_s, "fit": fit_s, "score": score_s}
            except Exception as exc:
                cell.status, cell.message = ERROR, _message(exc)
            observer.cell_finished(cell)
            results.append(cell)
    return results


def run_matrix(
    jobs: Sequence[BackboneJob],
    observer: Observer | None = None,
    executor: Any = None,
    on_backbone_done: Callable[[list[CellResult]], None] | None = None,
) -> list[CellResult]:
    observer = observer or SilentObserver()
    executor = executor or LocalExecutor()
    results: list[CellResult] = []
    for cells in executor.map(lambda job: run_backbone(job, observer), jobs):
        results.extend(cells)
        if on_backbone_done is not None:
            on_backbone_done(cells)
    return results


def sort_cells(cells: Iterable[CellResult]) -> list[CellResult]:
    """Best AUROC first; skipped and failed cells after every scored one."""
    order = {OK: 0, SKIPPED: 1, ERROR: 2}
    return sorted(cells, key=lambda c: (order[c.status], -c.metrics.get("auroc", 0.0), c.cell))
