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
from seambench.embeddings import write_embeddings
from seambench.errors import LeakageError, SeambenchError, WeightsUnavailable
from seambench.metrics import detection_metrics
from seambench.prefetch import batches, prefetched
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
    embedding_cache: str = "off"  # "hit", "miss" (computed and stored) or "off" (not cacheable)
    cached: bool = False  # the whole result was reused; its seconds are those of the run that computed it

    @property
    def cache(self) -> str:
        """What the leaderboard's cache column says: "cell", or the embedding cache's state."""
        return "cell" if self.cached else self.embedding_cache

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
    use_cache: bool = True
    save_embeddings: bool = True  # write embeddings.npy into artifacts_dir (for the report's scatter)
    embeddings_dtype: str = "float32"  # how cached embeddings are stored; float16 halves the cache


class LocalExecutor:
    """Runs backbone jobs one after another in this process."""

    def map(self, fn: Callable[[BackboneJob], list[CellResult]], jobs: Sequence[BackboneJob]) -> Iterator[list[CellResult]]:
        for job in jobs:
            yield fn(job)


def embed_records(backbone: Any, records: Sequence[ImageRecord], label: str, observer: Observer) -> np.ndarray:
    """Embed records in batches; the next batch is decoded in a thread while this one is embedded.

    Never more than two batches of decoded images exist at once, however many records there are.
    """
    size = max(1, int(getattr(backbone, "batch_size", 32)))
    chunks = batches(records, size)
    out: np.ndarray | None = None
    done = 0
    for chunk, images in prefetched(chunks, load_batch):
        features = np.asarray(backbone.embed(images), dtype=np.float32)
        del images
        if features.ndim != 2 or features.shape[0] != len(chunk):
            raise SeambenchError(
                f"backbone {label} returned features of shape {features.shape} for {len(chunk)} images; expected (n, d)"
            )
        if out is None:
            out = np.empty((len(records), features.shape[1]), dtype=np.float32)
        out[done : done + len(chunk)] = features
        done += len(chunk)
        observer.images_embedded(label, len(chunk))
    return out if out is not None else np.empty((0, 0), dtype=np.float32)


def embed_unique(job: BackboneJob, records: Sequence[ImageRecord], observer: Observer) -> tuple[np.ndarray, str | None, bool]:
    """Features for ``records``, each distinct image embedded once, through the on-disk cache.

    Rows are computed in content-hash order, so any split of the same images hits the same
    cache entry. Returns the features in ``records`` order, the cache key (None when the backbone
    cannot be cached: caching is off or it has no ``identity()``) and whether it was a hit.
    """
    from seambench import cache

    label = job.backbone.label
    first: dict[str, ImageRecord] = {}
    for r in records:
        first.setdefault(r.digest, r)
    digests = sorted(first)
    row = {d: i for i, d in enumerate(digests)}
    index = np.fromiter((row[r.digest] for r in records), dtype=np.int64, count=len(records))
    identity = getattr(job.built, "identity", None)
    dtype = job.embeddings_dtype
    key = cache.entry_key(label, identity(), digests, dtype) if (job.use_cache and identity is not None) else None
    cached = cache.load(key) if key is not None else None
    if cached is not None:
        observer.backbone_started(label, 0)
        return np.asarray(cached[index], dtype=np.float32), key, True
    observer.backbone_started(label, len(digests))
    features = embed_records(job.built, [first[d] for d in digests], label, observer)
    if dtype != "float32":  # use exactly what the cache will hand the next run: cold and warm agree
        features = features.astype(dtype).astype(np.float32)
    if key is not None:
        cache.store(key, features, {"backbone": label, "identity": identity(), "images": len(digests)}, dtype=dtype)
    return features[index], key, False


# One-time costs (numba compilation) per component type and process, kept out of the cells' columns.
WARMUP_SECONDS: dict[str, float] = {}


def warm_up(spec: ComponentSpec, component: Any) -> None:
    """Pay a component's one-time compile cost before its first timed fit, once per process."""
    fn = getattr(component, "warm_up", None)
    if fn is None or spec.name in WARMUP_SECONDS:
        return
    t0 = time.perf_counter()
    fn()
    WARMUP_SECONDS[spec.name] = time.perf_counter() - t0


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


def _reduce(spec: ComponentSpec, train_x: np.ndarray, test_x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    reducer = spec.build()
    warm_up(spec, reducer)
    t0 = time.perf_counter()
    reducer.fit(train_x)
    train_r = np.asarray(reducer.transform(train_x), dtype=np.float32)
    test_r = np.asarray(reducer.transform(test_x), dtype=np.float32)
    return train_r, test_r, time.perf_counter() - t0


def _detect(
    spec: ComponentSpec, train_r: np.ndarray, test_r: np.ndarray, want_neighbors: bool = False
) -> tuple[np.ndarray, float, float, np.ndarray | None]:
    """Fit and score one detector; its test neighbours too when a recall needs them (not timed)."""
    detector = spec.build()
    warm_up(spec, detector)
    t0 = time.perf_counter()
    detector.fit(train_r)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores = np.asarray(detector.score(test_r), dtype=np.float64).reshape(-1)
    score_s = time.perf_counter() - t0
    if scores.shape[0] != test_r.shape[0]:
        raise SeambenchError(f"detector returned {scores.shape[0]} scores for {test_r.shape[0]} test images")
    neighbors = np.asarray(detector.neighbors(test_r), dtype=np.int64) if want_neighbors else None
    return scores, fit_s, score_s, neighbors


def recall_pairs(detectors: Sequence[ComponentSpec]) -> dict[str, str]:
    """Approximate detector label → the exact detector label it is measured against.

    A detector says what it is with ``exact`` (True or False) and ``neighbors(features)``; an
    approximate one is paired with an exact one of the same ``k`` and ``metric``.
    """
    built = {}
    for spec in detectors:
        try:
            component = spec.build()
        except Exception:
            continue
        if isinstance(getattr(component, "exact", None), bool) and callable(getattr(component, "neighbors", None)):
            built[spec.label] = component
    exact: dict[tuple[Any, Any], str] = {}
    for label, c in built.items():
        if c.exact:  # the first exact detector listed is the reference
            exact.setdefault((getattr(c, "k", None), getattr(c, "metric", None)), label)
    return {
        label: exact[(getattr(c, "k", None), getattr(c, "metric", None))]
        for label, c in built.items()
        if not c.exact and (getattr(c, "k", None), getattr(c, "metric", None)) in exact
    }


def recall_at_k(found: np.ndarray, exact: np.ndarray) -> float:
    """Share of the exact k nearest neighbours that the approximate search returned, over all queries."""
    if found.shape != exact.shape:
        raise SeambenchError(f"neighbour arrays differ in shape: {found.shape} vs {exact.shape}")
    hits = sum(len(set(a.tolist()) & set(e.tolist())) for a, e in zip(found, exact))
    return hits / exact.size if exact.size else float("nan")


def run_backbone(job: BackboneJob, observer: Observer) -> list[CellResult]:
    """All cells of one backbone: embed once, reduce once per reducer, then each detector.

    Cells whose result is already in the cache (same features, split and specs) are not refitted;
    a reducer is fitted only when one of its cells is missing.
    """
    from seambench import cache

    b = job.backbone.label
    split = job.split
    labels = split.labels
    results: list[CellResult] = []

    def finish(cell: CellResult) -> None:
        observer.cell_finished(cell)
        results.append(cell)

    t0 = time.perf_counter()
    try:
        if hasattr(job.built, "fit"):
            fit_backbone(job.built, split, b, observer)
        features, embedding_key, embedding_hit = embed_unique(job, split.train + split.test, observer)
        if job.save_embeddings and job.artifacts_dir is not None:
            write_embeddings(job.artifacts_dir, split, features)
        write_artifacts = getattr(job.built, "write_artifacts", None)
        if write_artifacts is not None and job.artifacts_dir is not None:
            job.artifacts_dir.mkdir(parents=True, exist_ok=True)
            write_artifacts(job.artifacts_dir)
    except LeakageError:
        raise
    except Exception as exc:
        status, message = (SKIPPED, str(exc)) if isinstance(exc, WeightsUnavailable) else (ERROR, _message(exc))
        for r in job.reducers:
            for d in job.detectors:
                finish(CellResult(b, r.label, d.label, status, message))
        return results
    embed_s = time.perf_counter() - t0
    train_x, test_x = features[: len(split.train)], features[len(split.train) :]
    split_key = cache.split_key([r.digest for r in split.train], [r.digest for r in split.test], split.test_anomaly)
    embedding_state = "hit" if embedding_hit else "miss" if embedding_key else "off"

    pairs = recall_pairs(job.detectors)
    wanted = set(pairs) | set(pairs.values())
    for reducer_spec in job.reducers:
        keys = {
            d.label: cache.cell_key(embedding_key, split_key, reducer_spec.label, d.label) if embedding_key else None
            for d in job.detectors
        }
        stored = {label: cache.load_cell(key) if key else None for label, key in keys.items()}
        neighbors: dict[str, np.ndarray] = {}
        for label in wanted:  # a cached cell is reused for recall only if its neighbours were kept too
            found = cache.load_neighbors(keys[label]) if stored[label] is not None else None
            if found is None:
                stored[label] = None
            else:
                neighbors[label] = found
        reduced: tuple[np.ndarray, np.ndarray, float] | Exception | None = None
        group: list[CellResult] = []
        for detector_spec in job.detectors:
            label = detector_spec.label
            cell = CellResult(b, reducer_spec.label, label, OK, embedding_cache=embedding_state)
            hit = stored[label]
            try:
                if hit is not None:
                    scores, cell.seconds = hit
                    cell.cached = True
                else:
                    if reduced is None:
                        try:
                            reduced = _reduce(reducer_spec, train_x, test_x)
                        except Exception as exc:
                            reduced = exc
                    if isinstance(reduced, Exception):
                        raise reduced
                    train_r, test_r, reduce_s = reduced
                    scores, fit_s, score_s, found = _detect(detector_spec, train_r, test_r, label in wanted)
                    cell.seconds = {"embed": embed_s, "reduce": reduce_s, "fit": fit_s, "score": score_s}
                    if keys[label]:
                        cache.store_cell(keys[label], scores, cell.seconds)
                    if found is not None:
                        neighbors[label] = found
                        if keys[label]:
                            cache.store_neighbors(keys[label], found)
                cell.metrics = detection_metrics(labels, scores)
                cell.scores = scores
            except Exception as exc:
                cell.status, cell.message = ERROR, _message(exc)
            group.append(cell)
        for cell in group:  # recall needs both cells of a pair, so the group is reported once it is complete
            exact = pairs.get(cell.detector)
            if cell.status == OK and exact in neighbors and cell.detector in neighbors:
                cell.metrics["recall"] = recall_at_k(neighbors[cell.detector], neighbors[exact])
            finish(cell)
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
