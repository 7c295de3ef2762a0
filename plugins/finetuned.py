"""``finetuned:<base>`` — the study's finetuning: teach a pretrained network the machine setting.

A linear head classifies the nominal settings (cross-entropy) on nominal-train images only; then
the head is dropped and the pooled features are the embedding. Freezing, learning rate, epochs,
weight decay, an L2-SP pull towards the pretrained weights and early stopping on a nominal
validation split are options, so the study's open questions become leaderboard rows.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from seambench import Option, TrainingImages, hookimpl
from seambench.checkpoints import checkpoint_key, load_checkpoint, save_checkpoint
from seambench.curves import write_curves
from seambench.data import load_batch
from seambench.errors import SeambenchError, SpecError
from seambench.experiment import versions
from seambench_plugins.backbones import LAYERS_OPTION, TimmBackbone

CHECKPOINT_KIND = "finetuned"
HEAD_LR_FACTOR = 10.0  # the new head starts from scratch; the pretrained body moves slowly


@dataclass(frozen=True)
class FinetuneOptions:
    """How to finetune; every field is part of the checkpoint key."""

    epochs: int
    lr: float
    batch: int
    freeze: str
    wd: float
    l2sp: float
    val: float
    augment: bool

    def check(self) -> None:
        if self.epochs < 1:
            raise SpecError(f"finetuned: epochs={self.epochs} must be at least 1")
        if self.lr <= 0:
            raise SpecError(f"finetuned: lr={self.lr} must be positive")
        if self.batch < 2:
            raise SpecError(f"finetuned: batch={self.batch} must be at least 2")
        if self.wd < 0 or self.l2sp < 0:
            raise SpecError("finetuned: wd and l2sp must be >= 0")
        if not 0.0 <= self.val < 1.0:
            raise SpecError(f"finetuned: val={self.val} must be in [0, 1): the share of nominal-train kept for early stopping")


def frozen_parameters(model: Any, freeze: str) -> tuple[str, ...]:
    """Names of the parameters to freeze: none, the stem, or everything up to a named stage."""
    names = [n for n, _ in model.named_parameters()]
    if freeze == "none":
        return ()
    stage_tops = {str(f["module"]).split(".")[0] for f in getattr(model, "feature_info", [])}
    first_stage = next((i for i, n in enumerate(names) if n.split(".")[0] in stage_tops), len(names))
    if freeze == "stem":
        return tuple(names[:first_stage])
    inside = [i for i, n in enumerate(names) if n.startswith(freeze + ".")]
    if not inside:
        stages = sorted({str(f["module"]) for f in getattr(model, "feature_info", [])})
        raise SpecError(f"finetuned: freeze={freeze!r} names no part of {type(model).__name__}; use none, stem or a stage such as {', '.join(stages)}")
    return tuple(names[: inside[-1] + 1])


def validation_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per setting, a seeded share for validation; every setting keeps at least one training image."""
    rng = np.random.default_rng([seed, 7])
    train, val = [], []
    for k in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == k))
        n_val = int(round(fraction * len(idx))) if fraction > 0 else 0
        if fraction > 0 and len(idx) >= 2:
            n_val = min(max(n_val, 1), len(idx) - 1)
        val.extend(idx[:n_val])
        train.extend(idx[n_val:])
    return np.sort(np.array(train, dtype=int)), np.sort(np.array(val, dtype=int))


def augment_batch(gray: Any, generator: Any) -> Any:
    """Cheap, label-preserving jitter: horizontal flips and ±10% brightness and contrast."""
    import torch

    n = gray.shape[0]
    flip = torch.rand(n, generator=generator) < 0.5
    gray = torch.where(flip.view(-1, 1, 1, 1), gray.flip(-1), gray)
    contrast = 1 + (torch.rand(n, 1, 1, 1, generator=generator) - 0.5) * 0.2
    brightness = (torch.rand(n, 1, 1, 1, generator=generator) - 0.5) * 0.2
    mean = gray.mean(dim=(2, 3), keepdim=True)
    return ((gray - mean) * contrast + mean + brightness).clamp(0, 1)


class FinetunedBackbone(TimmBackbone):
    """A registered pretrained backbone, finetuned to classify the nominal machine settings."""

    def __init__(
        self,
        base: str = "imagenet-resnet50",
        epochs: int = 5,
        lr: float = 1e-4,
        batch: int = 16,
        freeze: str = "none",
        wd: float = 1e-4,
        l2sp: float = 0.0,
        val: float = 0.2,
        augment: bool = True,
        size: int = 0,
        layers: str = "",
    ) -> None:
        from seambench.plugins import default_registry

        base_spec = default_registry().resolve("backbone", base)
        if base_spec.name == "finetuned":
            raise SpecError("finetuned: the base must be a pretrained backbone, not another finetuned one")
        self.base = base_spec.build()  # WeightsUnavailable here skips the cells
        if not callable(getattr(self.base, "create_model", None)) or not hasattr(self.base, "model_name"):
            raise SpecError(f"finetuned: base {base!r} is not a network backbone; use imagenet-resnet50, imagenet-lite0 or timm:<model>")
        super().__init__(self.base.model_name, pretrained=True, size=size or self.base.size_override, batch=self.base.batch_size, layers=layers)
        self.base_label = base_spec.label
        self.options = FinetuneOptions(epochs, lr, batch, freeze, wd, l2sp, val, augment)
        self.options.check()
        self._trained: Any = None
        self.history: list[dict[str, Any]] = []
        self.entry: dict[str, Any] = {}
        self.from_cache = False
        self.checkpoint_folder: Path | None = None

    # -- what the harness calls -------------------------------------------------------------
    def fit(self, training: TrainingImages) -> None:
        inputs = self.key_inputs(training)
        key = checkpoint_key(inputs)
        cached = load_checkpoint(CHECKPOINT_KIND, key)
        if cached is not None:
            self._trained = self.load_trained(cached.state)
            self.entry, self.from_cache, self.checkpoint_folder = cached.entry, True, cached.folder
            self.history = list(cached.entry.get("history", []))
            if training.on_epoch is not None:
                training.on_epoch(self.options.epochs, self.options.epochs)
            return
        t0 = time.perf_counter()
        model, trained_on, best_epoch = self.train(training)
        self._trained = model
        self.entry = {
            "key": key,
            "inputs": inputs,
            "history": self.history,
            "best_epoch": best_epoch,
            "trained_on": sorted(trained_on),
            "train_seconds": round(time.perf_counter() - t0, 3),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "versions": versions(("seambench", "torch", "timm")),
        }
        self.checkpoint_folder = save_checkpoint(CHECKPOINT_KIND, key, model.state_dict(), self.entry)

    def trained_on(self) -> Iterable[str]:
        """Content digests of every image that trained or early-stopped this model."""
        return tuple(self.entry.get("trained_on", ()))

    def create_model(self) -> Any:
        if self._trained is None:
            raise SeambenchError(f"finetuned:{self.base_label} was asked to embed before fit(); the harness calls fit first")
        return self._trained

    def write_artifacts(self, folder: Path) -> None:
        write_curves(self.history, folder, f"finetuned:{self.base_label} — {self.describe()}")
        provenance = {k: v for k, v in self.entry.items() if k not in ("trained_on",)}
        provenance.update({"from_cache": self.from_cache, "checkpoint": str(self.checkpoint_folder)})
        import json

        (folder / "checkpoint.json").write_text(json.dumps(provenance, indent=2, default=str) + "\n")

    def identity(self) -> dict[str, Any]:
        return {"base": self.base_label, "options": asdict(self.options), "key": self.entry.get("key"), "layers": list(self.layers)}

    # -- the finetuning itself ---------------------------------------------------------------
    def key_inputs(self, training: TrainingImages) -> dict[str, Any]:
        base_identity = self.base.identity() if hasattr(self.base, "identity") else {}
        return {
            "base": self.base_label,
            "base_identity": base_identity,
            "options": asdict(self.options),
            "size": self.size_override,
            "data_fingerprint": training.fingerprint,
            "holdout": list(training.holdout),
            "seed": training.seed,
            "training_set_sha256": training.content_sha256,
            "settings": list(training.settings),
        }

    def describe(self) -> str:
        o = self.options
        return f"epochs={o.epochs} lr={o.lr:g} freeze={o.freeze} l2sp={o.l2sp:g} val={o.val:g}"

    def load_trained(self, state: dict[str, Any]) -> Any:
        import timm

        model = timm.create_model(self.model_name, pretrained=False, num_classes=0)
        model.load_state_dict(state)
        return model

    def train(self, training: TrainingImages) -> tuple[Any, set[str], int]:
        """Cross-entropy on the nominal settings; returns the headless model, the digests it saw, the kept epoch."""
        import torch
        import torch.nn.functional as F

        o = self.options
        torch.manual_seed(training.seed)
        generator = torch.Generator().manual_seed(training.seed)
        records = training.records
        settings = list(training.settings)
        labels = np.array([settings.index(r.setting) for r in records])
        model = self.base.create_model()
        self.configure(model)
        gray = self.resize(load_batch(records))  # (n, 1, s, s); read once, reused every epoch
        y = torch.from_numpy(labels).long()
        train_idx, val_idx = validation_split(labels, o.val, training.seed)
        trained_on = {records[i].digest for i in np.concatenate([train_idx, val_idx])}

        frozen = set(frozen_parameters(model, o.freeze))
        for name, p in model.named_parameters():
            p.requires_grad_(name not in frozen)
        body = [p for p in model.parameters() if p.requires_grad]
        anchor = [p.detach().clone() for p in body] if o.l2sp > 0 else []
        head = torch.nn.Linear(model.num_features, len(settings))
        groups = [{"params": head.parameters(), "lr": o.lr * HEAD_LR_FACTOR}]
        if body:
            groups.insert(0, {"params": body, "lr": o.lr})
        optimizer = torch.optim.AdamW(groups, weight_decay=o.wd)

        def set_train_mode() -> None:
            model.train()
            for module in model.modules():  # frozen layers keep their batch-norm statistics too
                if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and not any(p.requires_grad for p in module.parameters()):
                    module.eval()

        def evaluate(idx: np.ndarray) -> tuple[float, float]:
            model.eval()
            losses, correct = 0.0, 0
            with torch.no_grad():
                for start in range(0, len(idx), o.batch):
                    chunk = torch.from_numpy(idx[start : start + o.batch])
                    logits = head(model(self.normalise(gray[chunk])))
                    losses += float(F.cross_entropy(logits, y[chunk], reduction="sum"))
                    correct += int((logits.argmax(1) == y[chunk]).sum())
            return losses / len(idx), correct / len(idx)

        best: tuple[float, float] | None = None
        best_state, best_epoch = None, o.epochs
        self.history = []
        for epoch in range(1, o.epochs + 1):
            set_train_mode()
            order = train_idx[torch.randperm(len(train_idx), generator=generator).numpy()]
            total, correct, seen = 0.0, 0, 0
            for start in range(0, len(order), o.batch):
                chunk = torch.from_numpy(order[start : start + o.batch])
                if len(chunk) < 2 and seen:  # a batch of one breaks batch norm; its image was seen this epoch
                    continue
                x = gray[chunk]
                if o.augment:
                    x = augment_batch(x, generator)
                logits = head(model(self.normalise(x)))
                loss = F.cross_entropy(logits, y[chunk])
                objective = loss
                if anchor:
                    objective = loss + 0.5 * o.l2sp * sum(((p - a) ** 2).sum() for p, a in zip(body, anchor))
                optimizer.zero_grad(set_to_none=True)
                objective.backward()
                optimizer.step()
                total += float(loss.detach()) * len(chunk)
                correct += int((logits.argmax(1) == y[chunk]).sum())
                seen += len(chunk)
            row: dict[str, Any] = {"epoch": epoch, "train_loss": total / seen, "train_acc": correct / seen, "val_loss": None, "val_acc": None}
            if len(val_idx):
                row["val_loss"], row["val_acc"] = evaluate(val_idx)
                score = (row["val_acc"], -row["val_loss"])
                if best is None or score > best:
                    best, best_epoch = score, epoch
                    best_state = copy.deepcopy(model.state_dict())
            self.history.append(row)
            if training.on_epoch is not None:
                training.on_epoch(epoch, o.epochs)
        if best_state is not None:  # early stopping: keep the epoch with the best validation accuracy
            model.load_state_dict(best_state)
        for p in model.parameters():
            p.requires_grad_(False)
        return model.eval(), trained_on, best_epoch


@hookimpl
def register_backbones(register) -> None:
    register(
        "finetuned",
        FinetunedBackbone,
        positional="base",
        options=[
            Option("base", str, "imagenet-resnet50", "a registered pretrained backbone to start from (e.g. imagenet-lite0)"),
            Option("epochs", int, 5, "training epochs (the best validation epoch is kept)"),
            Option("lr", float, 1e-4, f"learning rate of the network (the new head uses {HEAD_LR_FACTOR:g}×)"),
            Option("batch", int, 16, "images per training step"),
            Option("freeze", str, "none", "none, stem, or a stage name: it and everything before it stay fixed (e.g. layer2, blocks.3)"),
            Option("wd", float, 1e-4, "AdamW weight decay"),
            Option("l2sp", float, 0.0, "strength of the L2-SP pull towards the pretrained weights (0: off)"),
            Option("val", float, 0.2, "share of nominal-train kept per setting for early stopping on setting accuracy (0: none)"),
            Option("augment", bool, True, "random flips and brightness/contrast jitter while training"),
            Option("size", int, 0, "input size in pixels (0: the base's)"),
            LAYERS_OPTION,
        ],
        help="a pretrained backbone finetuned to classify the nominal machine settings; the head is dropped",
    )
