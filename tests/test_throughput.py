"""The extraction path: thread settings, prefetched decoding, batched preprocessing, float16 embeddings."""

import json
import threading

import numpy as np
import pytest
from click.testing import CliRunner

from seambench import threads
from seambench.cli import main
from seambench.data import ImageRecord
from seambench.errors import SeambenchError
from seambench.prefetch import batches, prefetched
from seambench.runner import SilentObserver, embed_records


def test_thread_override_and_default(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    assert threads.torch_threads() == threads.available_cpus()
    monkeypatch.setenv(threads.ENV, "1")
    import torch

    before = torch.get_num_threads()
    try:
        assert threads.configure_torch() == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
        threads._configured = None
    monkeypatch.setenv(threads.ENV, "many")
    with pytest.raises(SeambenchError, match="SEAMBENCH_TORCH_THREADS='many'"):
        threads.torch_threads()


def test_prefetch_keeps_order_and_at_most_two_batches():
    live, peak, lock = [0], [0], threading.Lock()

    def load(chunk):
        with lock:
            live[0] += 1
            peak[0] = max(peak[0], live[0])
        return list(chunk)

    seen = []
    for chunk, loaded in prefetched(batches(list(range(23)), 5), load):
        assert loaded == list(chunk)
        seen.extend(loaded)
        with lock:
            live[0] -= 1
    assert seen == list(range(23)) and peak[0] <= 2


class Recorder:
    batch_size = 4

    def __init__(self):
        self.sizes = []

    def embed(self, images):
        self.sizes.append(len(images))
        return np.array([[im.mean()] for im in images], dtype=np.float32)


def test_embed_records_streams_in_batches():
    images = [np.full((8, 8), i, dtype=np.uint8) for i in range(10)]
    records = [ImageRecord(str(i), "A", None, str(i), (lambda im=im: im)) for i, im in enumerate(images)]
    backbone = Recorder()
    features = embed_records(backbone, records, "rec", SilentObserver())
    assert backbone.sizes == [4, 4, 2]
    np.testing.assert_array_equal(features[:, 0], np.arange(10))


def test_batched_resize_equals_one_by_one():
    import torch
    import torch.nn.functional as F

    from seambench_plugins.backbones import TimmBackbone

    backbone = TimmBackbone("test_resnet", pretrained=False, size=24)
    backbone.input_size = 24
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (40, 30), dtype=np.uint8) for _ in range(5)]
    one_by_one = torch.cat([
        F.interpolate(torch.from_numpy(im.astype(np.float32) / 255.0)[None, None], size=(24, 24), mode="bilinear",
                      antialias=True, align_corners=False) for im in images])
    torch.testing.assert_close(backbone.resize(images), one_by_one, rtol=1e-6, atol=1e-6)
    mixed = images[:2] + [rng.integers(0, 256, (24, 24), dtype=np.uint8)]
    assert backbone.resize(mixed).shape == (3, 1, 24, 24)


def test_float16_embeddings_option(easy_folder, tmp_path):
    args = ["run", "--dataset", f"folder:path={easy_folder},failing=C", "--backbone", "histogram", "--reducer", "none",
            "--detector", "knn:k=3", "--results", str(tmp_path / "r")]
    for _ in range(2):
        result = CliRunner().invoke(main, [*args, "--embeddings-dtype", "float16"])
        assert result.exit_code == 0, result.output
    first, second = sorted((tmp_path / "r").iterdir())
    assert json.loads((first / "run.json").read_text())["embeddings_dtype"] == "float16"
    assert json.loads((second / "run.json").read_text())["embedding_cache"] == {"histogram": "hit"}
    from seambench import cache

    (meta,) = cache.embeddings_root().glob("*/meta.json")
    assert json.loads(meta.read_text())["dtype"] == "float16"
    assert np.load(meta.parent / "features.npy").dtype == np.float16
    # a float32 run does not reuse the float16 entry
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert len(list(cache.embeddings_root().glob("*/meta.json"))) == 2
    bad = CliRunner().invoke(main, [*args, "--embeddings-dtype", "int8"])
    assert bad.exit_code == 2 and "int8" in bad.output
