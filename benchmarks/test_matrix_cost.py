"""Matrix cost: total run time against the number of cells, one backbone.

    pytest benchmarks/test_matrix_cost.py --benchmark-only

The same histogram backbone and data in every configuration; reducers × detectors grow from 1 to
12 cells. The summary splits each run's total into embedding (once per backbone), reducer fits
(once per reducer) and detector fit + score (once per cell), and what is left: the harness's own
overhead (protocol, metrics and bootstrap CIs per cell, writing the run folder). No cache, so every configuration pays in full.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from seambench.experiment import execute, prepare
from seambench.matrix import Matrix
from seambench.plugins import build_registry

from .conftest import SUMMARY

PER_SETTING = 150  # 4 settings × 150 = 600 images of 64 × 64
CONFIGS = [
    (("none",), ("knn:k=5",)),
    (("none",), ("knn:k=5", "knn:k=3")),
    (("none", "pca:d=8"), ("knn:k=5", "knn:k=3")),
    (("none", "pca:d=8"), ("knn:k=5", "knn:k=3", "knn:k=7", "pynndescent:k=5")),
    (("none", "pca:d=8", "pca:d=4"), ("knn:k=5", "knn:k=3", "knn:k=7", "pynndescent:k=5")),
]
ROWS: list[tuple[int, float, float, float, float]] = []


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for setting, mean in {"A": 60, "B": 80, "C": 200, "D": 100}.items():
        (root / setting).mkdir()
        for i in range(PER_SETTING):
            Image.fromarray(np.clip(rng.normal(mean, 30, (64, 64)), 0, 255).astype(np.uint8)).save(root / setting / f"{i}.png")
    # one untimed run of the largest matrix: imports, numba compiles and first-call costs out of every timing
    reducers, detectors = CONFIGS[-1]
    matrix = Matrix(dataset=f"folder:path={root},failing=C", backbones=("histogram",), reducers=reducers, detectors=detectors)
    prepared = prepare(matrix, build_registry(entry_points=False))
    for spec in prepared.detectors + prepared.reducers:
        warm = getattr(spec.build(), "warm_up", None)
        if warm is not None:
            warm()
    execute(prepared, tmp_path_factory.mktemp("warm"), use_cache=False)
    return root


@pytest.mark.parametrize("reducers,detectors", CONFIGS, ids=[f"{len(r) * len(d)}cells" for r, d in CONFIGS])
def test_matrix_cost(benchmark, folder, tmp_path, reducers, detectors):
    registry = build_registry(entry_points=False)
    matrix = Matrix(dataset=f"folder:path={folder},failing=C", backbones=("histogram",), reducers=reducers, detectors=detectors)
    prepared = prepare(matrix, registry)
    benchmark.group = "matrix cost"
    _, cells = benchmark.pedantic(lambda: execute(prepared, tmp_path / "r", use_cache=False), rounds=1, iterations=1)
    assert all(c.status == "ok" for c in cells)
    total = benchmark.stats.stats.min
    embed = cells[0].seconds["embed"]
    reduce = sum({c.reducer: c.seconds["reduce"] for c in cells}.values())  # the same fit, reported on each of its cells
    detect = sum(c.seconds["fit"] + c.seconds["score"] for c in cells)
    benchmark.extra_info.update(cells=len(cells), embed_s=embed, reduce_s=reduce, detect_s=detect)
    ROWS.append((len(cells), total, embed, reduce, detect))


def table() -> list[str]:
    if not ROWS:
        return []
    lines = [f"matrix cost, histogram backbone, {4 * PER_SETTING} images, no cache:",
             "| cells | total s | embed s (once) | reducer fits s | detector fit+score s | rest s |",
             "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for n, total, embed, reduce, detect in ROWS:
        lines.append(f"| {n} | {total:.2f} | {embed:.2f} | {reduce:.2f} | {detect:.2f} | {total - embed - reduce - detect:.2f} |")
    return lines


SUMMARY.append(table)
