from functools import partial

import numpy as np
import pytest

from seambench.data import FAIL, PASS, Dataset, ImageRecord, digest_array
from seambench.errors import LeakageError, ProtocolError
from seambench.protocol import leakage_proof, make_split, require_settings_to_train, resolve_holdout


def make_dataset(counts: dict[str, int], labels: dict[str, list] | None = None, default_holdout=("C",), duplicate=None) -> Dataset:
    """Distinct tiny images per (setting, index); ``duplicate`` copies one image's pixels to another key."""
    records = []
    for s_i, (setting, n) in enumerate(sorted(counts.items())):
        for i in range(n):
            pixels = np.full((4, 4), 0, np.uint8)
            pixels.flat[:2] = (s_i, i)
            if duplicate and (setting, i) == duplicate[1]:
                pixels.flat[:2] = duplicate[0]
            label = (labels or {}).get(setting, [None] * n)[i]
            records.append(ImageRecord(f"{setting}/{i}", setting, label, digest_array(pixels), partial(lambda p: p, pixels)))
    return Dataset("test", tuple(records), default_holdout)


def test_split_is_per_setting_seeded_and_disjoint():
    ds = make_dataset({"A": 10, "B": 10, "C": 5, "D": 20})
    split = make_split(ds, ("C",), test_fraction=0.2, seed=3)
    train_keys = {r.key for r in split.train}
    test_keys = {r.key for r in split.test}
    assert not train_keys & test_keys
    assert len(train_keys) + len(test_keys) == 45
    nominal_test = [r for r, a in zip(split.test, split.test_anomaly) if not a]
    per_setting = {s: sum(r.setting == s for r in nominal_test) for s in "ABD"}
    assert per_setting == {"A": 2, "B": 2, "D": 4}
    assert all(r.setting == "C" for r, a in zip(split.test, split.test_anomaly) if a)
    assert sum(split.test_anomaly) == 5
    assert not any(r.setting == "C" for r in split.train)
    again = make_split(ds, ("C",), test_fraction=0.2, seed=3)
    assert [r.key for r in again.train] == [r.key for r in split.train]
    other = make_split(ds, ("C",), test_fraction=0.2, seed=4)
    assert {r.key for r in other.train} != train_keys


def test_fail_labels_never_train_and_count_as_anomalies():
    labels = {"A": [PASS, FAIL, PASS, PASS, PASS, PASS], "B": [PASS] * 6, "C": [FAIL] * 3}
    ds = make_dataset({"A": 6, "B": 6, "C": 3}, labels)
    split = make_split(ds, ("C",), test_fraction=0.25, seed=0)
    assert all(r.label != FAIL for r in split.train)
    fail_a = next(i for i, r in enumerate(split.test) if r.key == "A/1")
    assert split.test_anomaly[fail_a]


def test_holdout_none_uses_labels_alone():
    labels = {s: [PASS, PASS, PASS, FAIL, PASS, PASS] for s in "AB"}
    ds = make_dataset({"A": 6, "B": 6}, labels, default_holdout=())
    holdout = resolve_holdout(ds, ["none"])
    assert holdout == ()
    split = make_split(ds, holdout, test_fraction=0.2, seed=0)
    assert sorted(r.key for r, a in zip(split.test, split.test_anomaly) if a) == ["A/3", "B/3"]


def test_default_holdout_comes_from_the_dataset():
    ds = make_dataset({"A": 3, "B": 3, "C": 3}, default_holdout=("B",))
    assert resolve_holdout(ds, None) == ("B",)
    assert resolve_holdout(ds, ["C", "A", "C"]) == ("C", "A")


def test_unknown_holdout_names_available_settings():
    ds = make_dataset({"A": 3, "B": 3, "C": 3})
    with pytest.raises(ProtocolError, match=r"unknown held-out setting 'Z'; available settings: A, B, C"):
        resolve_holdout(ds, ["Z"])


def test_no_anomalies_is_an_error():
    ds = make_dataset({"A": 4, "B": 4}, default_holdout=())
    with pytest.raises(ProtocolError, match="no anomalies"):
        make_split(ds, (), seed=0)


def test_no_nominal_test_images_is_an_error():
    ds = make_dataset({"A": 4, "B": 4})
    with pytest.raises(ProtocolError, match="no nominal images"):
        make_split(ds, ("A", "B"), seed=0)


def test_training_backbone_needs_two_nominal_settings():
    ds = make_dataset({"A": 5, "C": 5})
    split = make_split(ds, ("C",), seed=0)
    with pytest.raises(ProtocolError, match="1 nominal setting"):
        require_settings_to_train(split, "backbone finetuned")
    ok = make_split(make_dataset({"A": 5, "B": 5, "C": 5}), ("C",), seed=0)
    require_settings_to_train(ok, "backbone finetuned")


def test_duplicate_content_of_a_held_out_image_never_trains():
    # A/0 has the same pixels as C/0: it must go to test, not train.
    ds = make_dataset({"A": 6, "B": 6, "C": 3}, duplicate=((2, 0), ("A", 0)))
    assert ds.records[0].digest == next(r for r in ds.records if r.key == "C/0").digest
    split = make_split(ds, ("C",), test_fraction=0.2, seed=0)
    assert "A/0" not in {r.key for r in split.train}
    proof = leakage_proof(split)
    assert proof["passed"] and proof["training_sets"]["nominal-train"]["images"] == len(split.train)


def test_leakage_proof_catches_a_test_image_in_a_training_set():
    ds = make_dataset({"A": 6, "B": 6, "C": 3})
    split = make_split(ds, ("C",), seed=0)
    sneaky = list(split.train) + [split.test[0]]
    with pytest.raises(LeakageError, match="training set 'finetune'"):
        leakage_proof(split, {"finetune": sneaky})
    held_out = next(r for r in ds.records if r.setting == "C")
    with pytest.raises(LeakageError):
        leakage_proof(split, {"finetune": list(split.train) + [held_out]})


def test_bad_test_fraction():
    ds = make_dataset({"A": 3, "C": 3})
    with pytest.raises(ProtocolError, match="test-fraction"):
        make_split(ds, ("C",), test_fraction=1.5)
