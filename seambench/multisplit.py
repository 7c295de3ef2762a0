"""Runs made of several splits: repeated seeds, and leave-one-setting-out (LOSO).

One run folder holds every split. Each split is an ordinary held-out split run through the ordinary
matrix runner; its cells are tagged with the split's name. Backbones that do not train embed each
image once per run (an in-run memo); backbones that train are built and trained afresh per split.

LOSO holds out each setting in turn. The dataset's failing settings (``--holdout``, C for
sideseam) never train in any split; in the split of a nominal setting X the anomalies are X's
images only, so its AUROC says how unfamiliar an unseen *nominal* setting looks, to set beside the
failing setting's AUROC.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from seambench.data import Dataset
from seambench.errors import ProtocolError, WeightsUnavailable
from seambench.experiment import PreparedRun, Unavailable, _build, _Counting, run_info, safe_name
from seambench.memo import EmbeddingMemo
from seambench.multiboard import write_multi_run
from seambench.protocol import Split, leakage_proof, make_split, require_settings_to_train, resolve_holdout
from seambench.results import new_run_id
from seambench.runner import WARMUP_SECONDS, BackboneJob, CellResult, Observer, run_matrix
from seambench.significance import StatsSettings

HOLDOUT, LOSO = "holdout", "leave-one-setting-out"
PROTOCOLS = (HOLDOUT, LOSO)
FAILING, NOMINAL = "failing", "nominal"


@dataclass(frozen=True)
class SplitPlan:
    """One split of a multi-split run: its name, seed, anomaly settings and their role."""

    name: str
    seed: int
    heldout: tuple[str, ...]
    role: str  # "failing" or "nominal" under LOSO; "failing" for a seed of the holdout protocol


@dataclass
class SplitOutcome:
    plan: SplitPlan
    split: Split
    leakage: dict[str, Any]
    cells: list[CellResult]


def plan_splits(protocol: str, dataset: Dataset, failing: tuple[str, ...], seeds: Sequence[int]) -> list[SplitPlan]:
    """The splits of a run, in the order they run (the first is the one the report draws)."""
    if protocol not in PROTOCOLS:
        raise ProtocolError(f"unknown protocol {protocol!r}; choose one of: {', '.join(PROTOCOLS)}")
    if not seeds:
        raise ProtocolError("--seeds needs at least one seed, e.g. --seeds 0,1,2")
    plans = []
    for seed in seeds:
        if protocol == HOLDOUT:
            plans.append(SplitPlan(f"seed={seed}", seed, failing, FAILING))
            continue
        ordered = list(failing) + [s for s in dataset.settings if s not in failing]
        for setting in ordered:
            name = f"holdout={setting}" + (f",seed={seed}" if len(seeds) > 1 else "")
            plans.append(SplitPlan(name, seed, (setting,), FAILING if setting in failing else NOMINAL))
    return plans


def loso_split(dataset: Dataset, setting: str, failing: tuple[str, ...], test_fraction: float, seed: int) -> Split:
    """Hold out ``setting``; failing settings stay out of training but only ``setting`` is tested as anomalous."""
    held = tuple(dict.fromkeys((setting, *failing)))
    split = make_split(dataset, held, test_fraction=test_fraction, seed=seed)
    keep = [i for i, a in enumerate(split.test_anomaly) if not a or split.test[i].setting == setting]
    test = tuple(split.test[i] for i in keep)
    return replace(split, test=test, test_anomaly=tuple(r.setting == setting for r in test))


def build_split(plan: SplitPlan, protocol: str, dataset: Dataset, failing: tuple[str, ...], test_fraction: float) -> Split:
    if protocol == LOSO:
        return loso_split(dataset, plan.heldout[0], failing, test_fraction, plan.seed)
    return make_split(dataset, failing, test_fraction=test_fraction, seed=plan.seed)


@dataclass(frozen=True)
class PreparedSplits:
    """A checked multi-split run: the base preparation plus every split and its leakage proof."""

    base: PreparedRun
    protocol: str
    failing: tuple[str, ...]
    plans: tuple[SplitPlan, ...]
    splits: tuple[Split, ...]
    proofs: tuple[dict[str, Any], ...]

    @property
    def n_cells(self) -> int:
        return len(self.plans) * len(self.base.jobs) * len(self.base.reducers) * len(self.base.detectors)


def prepare_splits(base: PreparedRun, protocol: str, seeds: Sequence[int]) -> PreparedSplits:
    """Build and check every split before anything runs, so a bad one leaves no run folder."""
    dataset = base.dataset
    failing = resolve_holdout(dataset, base.matrix.holdout)
    plans = plan_splits(protocol, dataset, failing, seeds)
    splits, proofs = [], []
    trainable = [job.backbone.label for job in base.jobs if hasattr(job.built, "fit")]
    for plan in plans:
        split = build_split(plan, protocol, dataset, failing, base.matrix.test_fraction)
        training = {}
        for label in trainable:
            require_settings_to_train(split, f"backbone {label} (split {plan.name})")
            training[f"backbone {label}"] = split.training_images().records
        proofs.append(leakage_proof(split, training))
        splits.append(split)
    return PreparedSplits(base, protocol, failing, tuple(plans), tuple(splits), tuple(proofs))


def _jobs_for(prepared: PreparedSplits, index: int, shared: dict[str, Any], folder: Path, use_cache: bool,
              embeddings_dtype: str = "float32") -> list[BackboneJob]:
    plan, split = prepared.plans[index], prepared.splits[index]
    jobs = []
    for job in prepared.base.jobs:
        label = job.backbone.label
        if hasattr(job.built, "fit"):
            try:  # a trained backbone belongs to one split: build and train it afresh
                built = job.built if index == 0 else _build(job.backbone)
            except WeightsUnavailable as exc:
                built = Unavailable(exc)
        else:
            built = shared.setdefault(label, job.built if isinstance(job.built, Unavailable) else EmbeddingMemo(job.built))
        artifacts = folder / "splits" / safe_name(plan.name) / "backbones" / safe_name(label)
        jobs.append(replace(job, built=built, split=split, artifacts_dir=artifacts, save_embeddings=index == 0, use_cache=use_cache,
                            embeddings_dtype=embeddings_dtype))
    return jobs


def execute_splits(prepared: PreparedSplits, results_root: Path, observer: Observer | None = None,
                   argv: Sequence[str] = (), stats: StatsSettings = StatsSettings(), use_cache: bool = True,
                   embeddings_dtype: str = "float32") -> Path:
    """Run every split's matrix into one run folder, rewriting its files after every backbone."""
    base = prepared.base
    run_id = new_run_id(results_root, base.dataset_spec.name)
    folder = results_root / run_id
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    info = run_info(replace(base, split=prepared.splits[0], leakage=prepared.proofs[0]), run_id, started, argv or sys.argv)
    info["statistics"] = stats.to_json()
    info["embeddings_dtype"] = embeddings_dtype
    info["protocol"] = {
        "name": prepared.protocol,
        "failing": list(prepared.failing),
        "seeds": list(dict.fromkeys(p.seed for p in prepared.plans)),
        "splits": [
            {"name": p.name, "seed": p.seed, "heldout": list(p.heldout), "role": p.role,
             "holdout": list(s.holdout), "sizes": s.sizes(), "leakage": proof}
            for p, s, proof in zip(prepared.plans, prepared.splits, prepared.proofs)
        ],
    }
    observed: dict[str, int] = {}
    info["images_observed"] = observed
    outcomes: list[SplitOutcome] = []
    shared: dict[str, Any] = {}
    t0 = time.perf_counter()

    def save() -> None:
        embedded = dict(observed)
        for label, built in shared.items():
            if isinstance(built, EmbeddingMemo):
                embedded[label] = built.computed
        info["images_embedded"] = embedded
        write_multi_run(folder, info, outcomes, stats)

    save()
    try:
        for i, plan in enumerate(prepared.plans):
            outcome = SplitOutcome(plan, prepared.splits[i], prepared.proofs[i], [])
            outcomes.append(outcome)

            def checkpoint(new: list[CellResult], outcome: SplitOutcome = outcome) -> None:
                outcome.cells.extend(new)
                save()

            trained_on = info["protocol"]["splits"][i]["leakage"].setdefault("trained_on", {})
            observer_i = _Counting(observer, observed, trained_on, split_name=plan.name)
            run_matrix(_jobs_for(prepared, i, shared, folder, use_cache, embeddings_dtype), observer_i, on_backbone_done=checkpoint)
        info["status"] = "finished"
    except KeyboardInterrupt:
        info["status"] = "interrupted"
        raise
    finally:
        info["cells_from_cache"] = sum(c.cached for o in outcomes for c in o.cells)
        info["warmup_seconds"] = {k: round(v, 3) for k, v in WARMUP_SECONDS.items()}
        info["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        info["seconds"] = round(time.perf_counter() - t0, 3)
        save()
    return folder
