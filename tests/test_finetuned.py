"""finetuned:<base>: what it trains on, what it writes, what it caches, and a plugin that cheats."""

import json
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

import seambench
from seambench.cli import main
from seambench.data import digest_bytes
from seambench.errors import SeambenchError
from seambench.plugins import build_registry
from seambench.protocol import make_split

FINETUNED = "finetuned:imagenet-lite0,epochs=2,batch=4,size=32"


def run_cli(*args: str):
    return CliRunner().invoke(main, list(args))


def run_args(images: Path, results: Path, *backbones: str) -> list[str]:
    out = ["run", "--dataset", f"folder:path={images},failing=C", "--reducer", "none", "--detector", "knn:k=3", "--results", str(results)]
    for b in backbones:
        out += ["--backbone", b]
    return out


@pytest.fixture(scope="module")
def finetune_run(tmp_path_factory):
    """imagenet-lite0 and finetuned:imagenet-lite0 on tiny images, run twice with one cache."""
    from tests.conftest import write_setting_images

    root = tmp_path_factory.mktemp("ft")
    images = write_setting_images(root / "images", {"A": 60, "B": 80, "C": 200, "D": 100}, per_setting=8)
    mp = pytest.MonkeyPatch()
    mp.setenv("SEAMBENCH_CACHE", str(root / "cache"))
    try:
        first = run_cli(*run_args(images, root / "r1", "imagenet-lite0:size=32", FINETUNED))
        second = run_cli(*run_args(images, root / "r2", FINETUNED))
    finally:
        mp.undo()
    return images, root, first, next((root / "r1").iterdir()), second, next((root / "r2").iterdir())


def test_base_and_finetuned_rows_both_finish(finetune_run):
    _, _, first, folder, _, _ = finetune_run
    assert first.exit_code == 0, first.output
    board = pd.read_csv(folder / "leaderboard.csv")
    assert set(board.backbone) == {"imagenet-lite0:size=32", FINETUNED}
    assert set(board.status) == {"ok"}


def test_finetuned_embedding_differs_from_the_base(finetune_run):
    _, _, _, folder, _, _ = finetune_run
    scores = pd.read_parquet(folder / "scores.parquet")
    base = scores[scores.backbone == "imagenet-lite0:size=32"]["score"].to_numpy()
    tuned = scores[scores.backbone == FINETUNED]["score"].to_numpy()
    assert base.shape == tuned.shape and not np.allclose(base, tuned, rtol=1e-3)


def test_training_curves_are_written(finetune_run):
    _, _, _, folder, _, _ = finetune_run
    artifacts = folder / "backbones" / "finetuned_imagenet-lite0_epochs=2_batch=4_size=32"
    curves = pd.read_csv(artifacts / "training.csv")
    assert list(curves.columns) == ["epoch", "train_loss", "train_acc", "val_loss", "val_acc"]
    assert list(curves.epoch) == [1, 2]
    assert curves[["train_loss", "val_loss"]].gt(0).all().all()
    assert curves[["train_acc", "val_acc"]].apply(lambda c: c.between(0, 1)).all().all()
    assert (artifacts / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    provenance = json.loads((artifacts / "checkpoint.json").read_text())
    assert provenance["from_cache"] is False and provenance["best_epoch"] in (1, 2)
    assert provenance["inputs"]["settings"] == ["A", "B", "D"]  # K - 1 classes: C is held out


def test_finetuning_set_is_nominal_train_only(finetune_run):
    """What the finetuned model trained on (its cache entry) is nominal-train: no C image, no test image."""
    images, root, _, folder, _, _ = finetune_run
    dataset = build_registry(entry_points=False).resolve("dataset", f"folder:path={images},failing=C").build()
    split = make_split(dataset, ("C",), test_fraction=0.2, seed=0)
    entry_dir = Path(json.loads((folder / "backbones" / "finetuned_imagenet-lite0_epochs=2_batch=4_size=32" / "checkpoint.json").read_text())["checkpoint"])
    trained_on = set(json.loads((entry_dir / "entry.json").read_text())["trained_on"])
    assert trained_on == {r.digest for r in split.train}
    assert not trained_on & {r.digest for r in split.test}
    assert not trained_on & {r.digest for r in dataset.records if r.setting == "C"}
    info = json.loads((folder / "run.json").read_text())
    proof = info["leakage"]["trained_on"][FINETUNED]
    assert proof["images"] == len(split.train) == info["split"]["train"]
    assert proof["content_sha256"] == info["leakage"]["training_sets"]["nominal-train"]["content_sha256"]


def test_same_matrix_again_reuses_the_checkpoint(finetune_run):
    _, _, _, folder, second, again = finetune_run
    assert second.exit_code == 0, second.output
    artifacts = "backbones/finetuned_imagenet-lite0_epochs=2_batch=4_size=32"
    provenance = json.loads((again / artifacts / "checkpoint.json").read_text())
    assert provenance["from_cache"] is True
    assert (again / artifacts / "training.csv").read_text() == (folder / artifacts / "training.csv").read_text()
    first_scores = pd.read_parquet(folder / "scores.parquet").query("backbone == @FINETUNED")["score"].to_numpy()
    np.testing.assert_allclose(pd.read_parquet(again / "scores.parquet")["score"].to_numpy(), first_scores, rtol=1e-5)


def lite0_split(tmp_path, seed=0):
    from tests.conftest import write_setting_images

    images = write_setting_images(tmp_path / "img", {"A": 60, "B": 90, "C": 200}, per_setting=4, size=32)
    dataset = build_registry(entry_points=False).resolve("dataset", f"folder:path={images},failing=C").build()
    return make_split(dataset, ("C",), seed=seed)


def build(spec: str):
    return build_registry(entry_points=False).resolve("backbone", spec).build()


def test_freeze_keeps_the_frozen_stages_at_their_pretrained_values(tmp_path):
    split = lite0_split(tmp_path)
    base = build("imagenet-lite0:size=32").model.state_dict()
    tuned = build("finetuned:imagenet-lite0,epochs=1,batch=4,size=32,freeze=blocks.2,lr=0.01,val=0")
    tuned.fit(split.training_images())
    after = tuned.model.state_dict()
    for name in ("conv_stem.weight", "blocks.0.0.conv_dw.weight", "blocks.2.0.conv_pw.weight", "blocks.2.0.bn1.running_mean"):
        torch.testing.assert_close(after[name], base[name])
    assert not torch.allclose(after["blocks.5.0.conv_pw.weight"], base["blocks.5.0.conv_pw.weight"])


def test_l2sp_pulls_towards_the_pretrained_weights(tmp_path):
    split = lite0_split(tmp_path)
    base = build("imagenet-lite0:size=32").model.state_dict()

    def drift(spec):
        tuned = build(spec)
        tuned.fit(split.training_images())
        after = tuned.model.state_dict()
        return sum(float((after[k] - base[k]).pow(2).sum()) for k in base if k.endswith("weight"))

    free = drift("finetuned:imagenet-lite0,epochs=2,batch=4,size=32,lr=0.003,val=0,augment=false")
    pulled = drift("finetuned:imagenet-lite0,epochs=2,batch=4,size=32,lr=0.003,val=0,augment=false,l2sp=100")
    assert pulled < 0.5 * free


def test_unknown_freeze_stage_names_the_choices(tmp_path):
    split = lite0_split(tmp_path)
    tuned = build("finetuned:imagenet-lite0,epochs=1,size=32,freeze=layer9")
    with pytest.raises(SeambenchError, match="freeze='layer9' names no part of EfficientNet; use none, stem or a stage such as blocks.0"):
        tuned.fit(split.training_images())


def test_checkpoint_key_changes_with_seed_and_holdout(tmp_path):
    from seambench.checkpoints import checkpoint_key

    tuned = build("finetuned:imagenet-lite0,epochs=1,size=32")
    split = lite0_split(tmp_path)
    key = checkpoint_key(tuned.key_inputs(split.training_images()))
    other_seed = checkpoint_key(tuned.key_inputs(make_split_like(split, seed=1)))
    assert key != other_seed
    assert key == checkpoint_key(build("finetuned:imagenet-lite0,epochs=1,size=32").key_inputs(split.training_images()))


def make_split_like(split, seed):
    from dataclasses import replace

    return replace(split.training_images(), seed=seed)


def test_layers_concatenates_pooled_stages(tmp_path):
    images = [np.full((32, 32), 100, np.uint8), np.full((32, 32), 150, np.uint8)]
    assert build("imagenet-lite0:size=32,layers=3+4").embed(images).shape == (2, 112 + 320)
    assert build("imagenet-lite0:size=32").embed(images).shape == (2, 1280)
    with pytest.raises(SeambenchError, match="layers=9 is not one of them"):
        build("imagenet-lite0:size=32,layers=9").embed(images)
    with pytest.raises(SeambenchError, match="layers='3,x'|stage numbers joined by"):
        build("imagenet-lite0:layers=3+x")


def sneaky_plugin(images: Path, setting: str | None):
    """A trainable backbone that also 'trains' on one image it was not given: held out (C) or a nominal test image."""
    module = types.ModuleType("sneaky_plugin")

    class Sneaky:
        def fit(self, training):
            given = {r.digest for r in training.records}
            if setting is not None:
                extra = digest_bytes(sorted((images / setting).glob("*.png"))[0].read_bytes())
            else:  # a nominal image that the split put into test
                all_a = [digest_bytes(p.read_bytes()) for p in sorted((images / "A").glob("*.png"))]
                extra = next(d for d in all_a if d not in given)
            self.used = given | {extra}

        def trained_on(self):
            return self.used

        def embed(self, images):
            return np.array([[img.mean()] for img in images], dtype=np.float32)

    @seambench.hookimpl
    def register_backbones(register):
        register("sneaky", Sneaky)

    module.register_backbones = register_backbones
    return module


@pytest.mark.parametrize("setting, what", [("C", "held-out/FAIL image C/"), (None, "nominal test image A/")])
def test_a_plugin_that_trains_on_a_forbidden_image_stops_the_run(easy_folder, tmp_path, monkeypatch, setting, what):
    registry = build_registry([("sneaky", sneaky_plugin(easy_folder, setting))], entry_points=False)
    monkeypatch.setattr("seambench.cli._registry", lambda: registry)
    result = run_cli(*run_args(easy_folder, tmp_path / "out", "histogram:bins=8", "sneaky"))
    assert result.exit_code == 2
    lines = [l for l in result.output.splitlines() if l.strip()]
    assert lines[-1].startswith(f"error: leakage: backbone sneaky trained on {what}")
    assert "Traceback" not in result.output
    info = json.loads((next((tmp_path / "out").iterdir()) / "run.json").read_text())
    assert info["status"] == "failed" and info["leakage"]["passed"] is False
    assert {c["backbone"] for c in info["cells"]} == {"histogram:bins=8"}  # what finished before is kept


def test_finetune_protocols_matrix_resolves_every_row():
    from seambench.matrix import load_matrix

    matrix = load_matrix(Path(__file__).parents[1] / "benchmarks" / "finetune_protocols.toml")
    registry = build_registry(entry_points=False)
    labels = [registry.resolve("backbone", b).label for b in matrix.backbones]
    assert len(set(labels)) == len(labels)
    assert "imagenet-resnet50" in labels and sum(label.startswith("finetuned:") for label in labels) >= 8
