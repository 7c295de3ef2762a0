"""The held-out protocol: which images train, which test, which count as anomalies — and the proof.

Held-out settings and FAIL-labelled images never enter a training set; the nominal images of the
other settings are split per setting with a seeded shuffle. The leakage check compares content
hashes, so a duplicated file under two names cannot slip through either.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from seambench.components import TrainingImages
from seambench.data import FAIL, Dataset, ImageRecord
from seambench.errors import LeakageError, ProtocolError

HOLDOUT_NONE = "none"


@dataclass(frozen=True)
class Split:
    """Nominal-train and test records; ``test_anomaly[i]`` says whether test record i is an anomaly."""

    holdout: tuple[str, ...]
    train: tuple[ImageRecord, ...]
    test: tuple[ImageRecord, ...]
    test_anomaly: tuple[bool, ...]
    seed: int
    test_fraction: float
    fingerprint: str = ""  # of the dataset the split was made from

    @property
    def labels(self) -> np.ndarray:
        return np.asarray(self.test_anomaly, dtype=bool)

    @property
    def nominal_settings(self) -> tuple[str, ...]:
        return tuple(sorted({r.setting for r in self.train}))

    def training_images(self) -> TrainingImages:
        return TrainingImages(self.train, self.nominal_settings, self.fingerprint, self.holdout, self.seed)

    def sizes(self) -> dict[str, int]:
        anomalies = int(sum(self.test_anomaly))
        return {
            "train": len(self.train),
            "test": len(self.test),
            "test_anomalies": anomalies,
            "test_nominal": len(self.test) - anomalies,
        }


def resolve_holdout(dataset: Dataset, requested: Iterable[str] | None) -> tuple[str, ...]:
    """The held-out settings: the request, or the dataset's default; ``none`` means labels alone."""
    available = dataset.settings
    if requested is None:
        chosen = tuple(dataset.default_holdout)
    else:
        items = [s for s in requested]
        if any(s.lower() == HOLDOUT_NONE for s in items):
            if len(items) > 1:
                raise ProtocolError("--holdout none cannot be combined with named settings")
            return ()
        chosen = tuple(dict.fromkeys(items))
    unknown = [s for s in chosen if s not in available]
    if unknown:
        raise ProtocolError(
            f"unknown held-out setting {', '.join(map(repr, unknown))}; available settings: {', '.join(available)}"
        )
    return chosen


def _setting_seed(seed: int, setting: str) -> np.random.Generator:
    # Stable across runs and Python processes (str hash is salted), independent of other settings.
    salt = int.from_bytes(hashlib.sha256(setting.encode()).digest()[:8], "little")
    return np.random.default_rng([seed, salt])


def make_split(dataset: Dataset, holdout: tuple[str, ...], *, test_fraction: float = 0.2, seed: int = 0) -> Split:
    """Apply the protocol to a dataset. Raises ProtocolError when no honest test set can be built."""
    if not 0.0 < test_fraction < 1.0:
        raise ProtocolError(f"--test-fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    held = set(holdout)
    # Anything held out or labelled FAIL goes to test; their content never trains, even as a duplicate.
    anomaly_records = [r for r in dataset.records if r.setting in held or r.label == FAIL]
    anomaly_digests = {r.digest for r in anomaly_records}
    nominal_by_setting: dict[str, list[ImageRecord]] = {}
    for r in dataset.records:
        if r.setting not in held and r.label != FAIL:
            nominal_by_setting.setdefault(r.setting, []).append(r)

    train: list[ImageRecord] = []
    nominal_test: list[ImageRecord] = []
    for setting in sorted(nominal_by_setting):
        # Identical images stay together, so the same content cannot sit on both sides.
        groups: dict[str, list[ImageRecord]] = {}
        for r in sorted(nominal_by_setting[setting], key=lambda r: r.key):
            groups.setdefault(r.digest, []).append(r)
        digests = sorted(groups)
        order = _setting_seed(seed, setting).permutation(len(digests))
        n_test = int(round(test_fraction * len(digests)))
        if len(digests) >= 2:
            n_test = min(max(n_test, 1), len(digests) - 1)
        for rank, j in enumerate(order):
            bucket = nominal_test if rank < n_test or digests[j] in anomaly_digests else train
            bucket.extend(groups[digests[j]])

    test = nominal_test + anomaly_records
    anomaly = [False] * len(nominal_test) + [True] * len(anomaly_records)
    split = Split(tuple(holdout), tuple(train), tuple(test), tuple(anomaly), seed, test_fraction, dataset.fingerprint)
    if not any(anomaly):
        raise ProtocolError(
            "the test set has no anomalies: hold out a failing setting with --holdout SETTING,"
            " or give the data FAIL labels"
        )
    if all(anomaly):
        raise ProtocolError(
            "the test set has no nominal images: every image is held out or labelled FAIL;"
            " hold out fewer settings"
        )
    if not train:
        raise ProtocolError("the training set is empty: the data needs nominal (not held-out, not FAIL) images")
    return split


def require_settings_to_train(split: Split, component: str) -> None:
    """A backbone that learns the machine setting needs at least two nominal settings to tell apart."""
    n = len(split.nominal_settings)
    if n < 2:
        raise ProtocolError(
            f"{component} trains on machine settings but the training set has {n} nominal setting"
            f"{'' if n == 1 else 's'}; hold out fewer settings or use data with more"
        )


def _digest_set_hash(digests: Iterable[str]) -> str:
    h = hashlib.sha256()
    for d in sorted(digests):
        h.update(d.encode())
    return h.hexdigest()


def leakage_proof(split: Split, extra_training: dict[str, Iterable[ImageRecord]] | None = None) -> dict:
    """Check by content hash that nothing tested, held out or FAIL reaches any training set.

    ``extra_training`` names further training sets (a finetuned backbone's) that must also hold
    only nominal-train content. Raises LeakageError; returns the proof for run.json.
    """
    train_digests = {r.digest for r in split.train}
    test_digests = {r.digest for r in split.test}
    held = set(split.holdout)
    checks = {"nominal-train": list(split.train)}
    for name, records in (extra_training or {}).items():
        checks[name] = list(records)
    sets = {}
    for name, records in checks.items():
        digests = {r.digest for r in records}
        overlap = digests & test_digests
        held_out = [r.key for r in records if r.setting in held]
        failed = [r.key for r in records if r.label == FAIL]
        outside = digests - train_digests
        if overlap or held_out or failed or outside:
            what = (
                f"{len(overlap)} test images" if overlap else
                f"held-out image {held_out[0]}" if held_out else
                f"FAIL-labelled image {failed[0]}" if failed else
                f"{len(outside)} images outside nominal-train"
            )
            raise LeakageError(f"leakage: training set {name!r} contains {what}; the run is stopped")
        sets[name] = {"images": len(records), "content_sha256": _digest_set_hash(digests), "test_overlap": 0}
    return {
        "method": "sha256 of image content; every training set checked against the test set",
        "test_images": len(split.test),
        "test_content_sha256": _digest_set_hash(test_digests),
        "training_sets": sets,
        "held_out_in_training": 0,
        "fail_in_training": 0,
        "passed": True,
    }


def check_trained_on(split: Split, digests: Iterable[str], component: str) -> dict:
    """What a backbone says it trained on must be nominal-train content; anything else stops the run.

    Called after ``fit``: a plugin that fed a test, held-out or FAIL image into training raises
    LeakageError naming the image. Returns the proof entry for run.json.
    """
    used = set(digests)
    train_digests = {r.digest for r in split.train}
    outside = used - train_digests
    if outside:
        test_keys = {r.digest: (r.key, anomaly) for r, anomaly in zip(split.test, split.test_anomaly)}
        known = sorted(test_keys[d] for d in outside if d in test_keys)
        if known:
            key, anomaly = known[0]
            what = f"{'held-out/FAIL' if anomaly else 'nominal test'} image {key}"
        else:
            what = "an image that is not in nominal-train"
        raise LeakageError(
            f"leakage: backbone {component} trained on {what}"
            f" ({len(outside)} image{'s' if len(outside) != 1 else ''} outside nominal-train); the run is stopped"
        )
    return {"images": len(used), "content_sha256": _digest_set_hash(used), "outside_nominal_train": 0}
