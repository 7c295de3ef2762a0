"""The procedural side-seam generator: determinism, labels, defects, cache, and the data's difficulty."""

from __future__ import annotations

import numpy as np
import pytest

from seambench_plugins import sideseam as ss

TINY = dict(per_setting=3, size=64)


@pytest.fixture(scope="module")
def study() -> ss.SideseamImages:
    """A small but realistic set: 20 images per setting at 96 px, default severity and fraction."""
    return ss.generate(ss.SideseamOptions(per_setting=20, size=96))


def test_shapes_dtypes_and_names():
    out = ss.generate(ss.SideseamOptions(**TINY))
    n = len(ss.SETTING_NAMES) * 3
    assert out.images.shape == (n, 64, 64)
    assert out.images.dtype == np.uint8
    assert len(out.settings) == len(out.labels) == len(out.defective) == n
    assert ss.SETTING_NAMES == tuple("ABCDEFGHIJKL")
    assert set(ss.SETTINGS) == set(ss.SETTING_NAMES)
    assert ss.DEFAULT_FAILING == ("C",)
    assert [out.settings.count(s) for s in ss.SETTING_NAMES] == [3] * 12
    # Images use a good part of the dynamic range and are not constant.
    assert out.images.std(axis=(1, 2)).min() > 3


def test_deterministic_for_a_seed():
    a = ss.generate(ss.SideseamOptions(**TINY))
    b = ss.generate(ss.SideseamOptions(**TINY))
    np.testing.assert_array_equal(a.images, b.images)
    assert a.settings == b.settings and a.labels == b.labels and a.defective == b.defective


def test_different_seeds_differ():
    a = ss.generate(ss.SideseamOptions(**TINY, seed=0))
    b = ss.generate(ss.SideseamOptions(**TINY, seed=1))
    assert not np.array_equal(a.images, b.images)
    # Every single image differs, not just some.
    assert all(not np.array_equal(x, y) for x, y in zip(a.images, b.images))


def test_more_images_per_setting_keeps_earlier_images():
    small = ss.generate(ss.SideseamOptions(per_setting=2, size=64))
    large = ss.generate(ss.SideseamOptions(per_setting=4, size=64))
    for name in ss.SETTING_NAMES:
        s_small = [i for i, s in enumerate(small.settings) if s == name]
        s_large = [i for i, s in enumerate(large.settings) if s == name][:2]
        np.testing.assert_array_equal(small.images[s_small], large.images[s_large])


def test_labels_fail_exactly_for_failing_settings():
    out = ss.generate(ss.SideseamOptions(per_setting=4, size=64, failing=("C", "H")))
    for setting, label, defect in zip(out.settings, out.labels, out.defective):
        assert label == ("FAIL" if setting in ("C", "H") else "PASS")
        if setting not in ("C", "H"):
            assert not defect
    default = ss.generate(ss.SideseamOptions(**TINY))
    assert {s for s, lab in zip(default.settings, default.labels) if lab == "FAIL"} == {"C"}


def test_severity_zero_draws_no_defects_but_still_labels_fail():
    out = ss.generate(ss.SideseamOptions(**TINY, severity=0.0, defect_fraction=1.0))
    assert not any(out.defective)
    assert {lab for s, lab in zip(out.settings, out.labels) if s == "C"} == {"FAIL"}


def test_defect_fraction_controls_which_images_get_defects():
    everything = ss.generate(ss.SideseamOptions(per_setting=6, size=64, defect_fraction=1.0))
    nothing = ss.generate(ss.SideseamOptions(per_setting=6, size=64, defect_fraction=0.0))
    c_every = [d for s, d in zip(everything.settings, everything.defective) if s == "C"]
    assert all(c_every) and sum(everything.defective) == 6
    assert not any(nothing.defective)
    # Defects are drawn into C's images; the nominal images are untouched by the option.
    nominal = np.array([s != "C" for s in everything.settings])
    np.testing.assert_array_equal(everything.images[nominal], nothing.images[nominal])
    assert not np.array_equal(everything.images[~nominal], nothing.images[~nominal])


def test_render_seam_same_rng_state_differs_only_by_defects():
    params = ss.SETTINGS["C"]
    clean = ss.render_seam(params, np.random.default_rng(5), 96, 0.0)
    faulty = ss.render_seam(params, np.random.default_rng(5), 96, 1.0)
    assert clean.shape == (96, 96) and clean.dtype == np.uint8
    diff = np.abs(clean.astype(int) - faulty.astype(int))
    assert diff.max() > 20  # defects are visible...
    assert (diff > 10).mean() < 0.25  # ...and local


@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(per_setting=0), "per_setting"),
        (dict(size=16), "size"),
        (dict(severity=1.5), "severity"),
        (dict(severity=-0.1), "severity"),
        (dict(defect_fraction=2.0), "defect_fraction"),
        (dict(failing=("Z",)), "failing"),
    ],
)
def test_options_are_validated(kwargs, word):
    with pytest.raises(ValueError, match=word):
        ss.SideseamOptions(**kwargs)


def test_cache_hit_and_corrupt_cache_regenerated(monkeypatch, tmp_path):
    monkeypatch.setenv("SEAMBENCH_CACHE", str(tmp_path))
    options = ss.SideseamOptions(**TINY, seed=3)
    first = ss.load_or_generate(options)
    files = list((tmp_path / "sideseam").glob("*.npz"))
    assert len(files) == 1 and files[0].name == ss.cache_path(options).name
    assert not [p for p in (tmp_path / "sideseam").iterdir() if p.suffix != ".npz"]  # no temp files left

    def boom(_options):
        raise AssertionError("generate called despite a valid cache")

    real_generate = ss.generate
    monkeypatch.setattr(ss, "generate", boom)
    hit = ss.load_or_generate(options)
    np.testing.assert_array_equal(hit.images, first.images)
    assert hit.settings == first.settings and hit.labels == first.labels and hit.defective == first.defective

    # A different option is a different cache entry.
    monkeypatch.setattr(ss, "generate", real_generate)
    ss.load_or_generate(ss.SideseamOptions(**TINY, seed=3, severity=0.9))
    assert len(list((tmp_path / "sideseam").glob("*.npz"))) == 2

    files[0].write_bytes(b"not an npz file at all")
    again = ss.load_or_generate(options)
    np.testing.assert_array_equal(again.images, first.images)
    assert again.labels == first.labels
    monkeypatch.setattr(ss, "generate", boom)
    np.testing.assert_array_equal(ss.load_or_generate(options).images, first.images)  # rewritten validly


def test_global_brightness_of_failing_setting_lies_inside_nominal_range(study):
    means = study.images.mean(axis=(1, 2))
    settings = np.array(study.settings)
    c, nominal = means[settings == "C"], means[settings != "C"]
    assert nominal.min() <= c.min() and c.max() <= nominal.max()
    # And no setting owns a brightness band: every pair of settings' ranges overlaps.
    ranges = [(means[settings == s].min(), means[settings == s].max()) for s in ss.SETTING_NAMES]
    for lo_a, hi_a in ranges:
        for lo_b, hi_b in ranges:
            assert lo_a <= hi_b and lo_b <= hi_a


def _seam_features(images: np.ndarray) -> np.ndarray:
    """Row profile across the seam plus the FFT magnitude along it (the nugget pitch)."""
    feats = []
    size = images.shape[1]
    for image in images.astype(np.float64):
        rows = image.mean(axis=1)
        rows = (rows - rows.mean()) / (rows.std() + 1e-6)
        band = image[size // 2 - size // 8 : size // 2 + size // 8]
        spectrum = np.abs(np.fft.rfft(band - band.mean(axis=1, keepdims=True), axis=1)).mean(axis=0)[1 : size // 4]
        feats.append(np.concatenate([rows, spectrum / (spectrum.sum() + 1e-6)]))
    return np.array(feats)


def test_nominal_settings_are_learnable(study):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    settings = np.array(study.settings)
    nominal = settings != "C"
    features = _seam_features(study.images[nominal])
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1))
    accuracy = cross_val_score(probe, features, settings[nominal], cv=4).mean()
    assert accuracy > 0.6  # chance is 1/11


def test_pixel_histogram_knn_does_not_give_the_failing_setting_away(study):
    from sklearn.metrics import roc_auc_score
    from sklearn.neighbors import NearestNeighbors

    hist = np.stack([np.histogram(im, bins=32, range=(0, 256))[0] for im in study.images]).astype(np.float64)
    hist /= hist.sum(axis=1, keepdims=True)
    settings = np.array(study.settings)
    index = np.arange(len(settings))
    failing = settings == "C"
    train = ~failing & (index % 2 == 0)
    test = (~failing & (index % 2 == 1)) | failing
    knn = NearestNeighbors(n_neighbors=5).fit(hist[train])
    distances, _ = knn.kneighbors(hist[test])
    auroc = roc_auc_score(failing[test], distances.mean(axis=1))
    assert auroc < 0.75
