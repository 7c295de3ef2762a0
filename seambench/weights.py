"""Where a pretrained timm backbone's weights come from, in a fixed order, with no surprise downloads.

Order: an explicit file (``weights=PATH``); ``$SEAMBENCH_WEIGHTS_DIR/<model>.<tag>.safetensors``
(or ``.pth``); timm's own caches (the Hugging Face hub cache, then torch hub's checkpoints);
a download, only when the machine is online. Files are read as tensors only: safetensors, or
``torch.load(weights_only=True)`` — never a full unpickle.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from seambench.errors import SeambenchError, SpecError, WeightsUnavailable

WEIGHTS_DIR_ENV = "SEAMBENCH_WEIGHTS_DIR"
OFFLINE_ENVS = ("SEAMBENCH_OFFLINE", "HF_HUB_OFFLINE")
LOCAL_SUFFIXES = (".safetensors", ".pth")
HUB_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class WeightsRequest:
    """One timm pretrained checkpoint: architecture, tag and the places timm would fetch it from."""

    model: str
    tag: str
    hf_hub_id: str | None
    url: str | None

    @property
    def name(self) -> str:
        return f"{self.model}.{self.tag}"

    @property
    def file_names(self) -> tuple[str, ...]:
        """What seambench looks for in ``$SEAMBENCH_WEIGHTS_DIR``, in order."""
        return tuple(self.name + s for s in LOCAL_SUFFIXES)


@dataclass(frozen=True)
class ResolvedWeights:
    path: Path
    source: str  # "weights option", "SEAMBENCH_WEIGHTS_DIR", "hugging face cache", "torch hub cache", "download"


def pretrained_request(model: str, tag: str = "") -> WeightsRequest:
    """The checkpoint timm means by ``model`` and ``tag`` (empty: timm's default tag)."""
    import timm
    from timm.models import get_pretrained_cfg

    full = f"{model}.{tag}" if tag else model
    try:
        cfg = get_pretrained_cfg(full, allow_unregistered=False)
    except RuntimeError:  # timm: unknown tag, or an architecture with no pretrained weights
        cfg = None
    if cfg is None:
        tags = [n.split(".", 1)[1] for n in timm.list_pretrained(f"{model}.*")]
        if not tags:
            raise SpecError(f"timm has no pretrained weights for model {model!r}")
        raise SpecError(f"timm has no pretrained tag {tag!r} for {model}; available tags: {', '.join(tags)}")
    resolved_tag = tag or getattr(cfg, "tag", None) or "default"
    return WeightsRequest(model, resolved_tag, cfg.hf_hub_id or None, cfg.url or None)


def offline() -> bool:
    """True when the environment asks for no network (read at call time, not import time)."""
    return any(os.environ.get(k, "").strip().lower() in ("1", "true", "yes", "on") for k in OFFLINE_ENVS)


@cache
def reachable(host: str, timeout: float = 3.0) -> bool:
    """One quick TCP probe per host and process, so a machine without network fails fast
    instead of sitting through the hub client's retries."""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def hub_host() -> str:
    return urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co").hostname or "huggingface.co"


def weights_dir() -> Path | None:
    value = os.environ.get(WEIGHTS_DIR_ENV)
    return Path(value).expanduser() if value else None


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache timm downloads into (HF_HUB_CACHE, else HF_HOME/hub)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(home).expanduser() / "hub"


def torch_hub_checkpoints() -> Path:
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def find_local(request: WeightsRequest, explicit: str | Path | None = None) -> ResolvedWeights | None:
    """The first weights file found without the network, or None."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise SeambenchError(f"weights file {path} does not exist; fix weights=PATH (a .safetensors or .pth state dict)")
        return ResolvedWeights(path, "weights option")
    folder = weights_dir()
    if folder is not None:
        for name in request.file_names:
            if (folder / name).is_file():
                return ResolvedWeights(folder / name, WEIGHTS_DIR_ENV)
    if request.hf_hub_id:
        from huggingface_hub import try_to_load_from_cache

        for name in HUB_FILES:
            hit = try_to_load_from_cache(request.hf_hub_id, name, cache_dir=str(hf_cache_dir()))
            if isinstance(hit, str) and os.path.isfile(hit):
                return ResolvedWeights(Path(hit), "hugging face cache")
    if request.url:
        path = torch_hub_checkpoints() / os.path.basename(request.url.split("?")[0])
        if path.is_file():
            return ResolvedWeights(path, "torch hub cache")
    return None


def where_to_put(request: WeightsRequest) -> str:
    folder = weights_dir()
    where = f"{folder}/{request.file_names[0]}" if folder else f"$SEAMBENCH_WEIGHTS_DIR/{request.file_names[0]}"
    return f"put the state dict at {where} (or .pth)"


def missing_message(request: WeightsRequest, component: str) -> str:
    """The one line a skipped cell shows: which file to put where."""
    return (
        f"{component}: no weights for {request.name} here and no network; {where_to_put(request)},"
        f" pass weights=PATH, or run `seambench weights fetch {component}` once online"
    )


def download(request: WeightsRequest) -> ResolvedWeights:
    """Fetch into timm's own cache (the hub when timm has a hub id, else torch hub)."""
    if offline():
        raise WeightsUnavailable(f"cannot download {request.name}: the network is switched off (HF_HUB_OFFLINE / SEAMBENCH_OFFLINE)")
    errors = []
    if request.hf_hub_id and not reachable(hub_host()):
        errors.append(f"{hub_host()} unreachable")
    elif request.hf_hub_id:
        from huggingface_hub import hf_hub_download

        for name in HUB_FILES:
            try:
                path = hf_hub_download(request.hf_hub_id, name, cache_dir=str(hf_cache_dir()))
                return ResolvedWeights(Path(path), "download")
            except Exception as exc:  # file not in the repo, connection dropped, ...
                errors.append(f"{name}: {type(exc).__name__}")
    url_host = urlparse(request.url).hostname if request.url else None
    if request.url and url_host and not reachable(url_host):
        errors.append(f"{url_host} unreachable")
    elif request.url:
        import torch.hub

        target = torch_hub_checkpoints() / os.path.basename(request.url.split("?")[0])
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(request.url, str(target), progress=False)
            return ResolvedWeights(target, "download")
        except Exception as exc:
            errors.append(f"{type(exc).__name__}")
    raise WeightsUnavailable(f"download of {request.name} failed ({'; '.join(errors) or 'timm names no source'})")


def resolve(request: WeightsRequest, component: str, explicit: str | Path | None = None) -> ResolvedWeights:
    """Local first; then a download unless offline; else WeightsUnavailable saying what to do."""
    found = find_local(request, explicit)
    if found is not None:
        return found
    if not offline():
        try:
            return download(request)
        except WeightsUnavailable:
            pass
    raise WeightsUnavailable(missing_message(request, component))


def load_state_dict(path: Path) -> dict[str, Any]:
    """Tensors only: safetensors, or a torch state dict loaded with weights_only=True."""
    import torch

    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsUnavailable(f"cannot read weights file {path} as a state dict ({type(exc).__name__}: {exc})") from None
    for wrapper in ("state_dict", "model"):  # training checkpoints often nest the weights
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsUnavailable(f"weights file {path} is not a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_into(model: Any, path: Path) -> None:
    """Load a state dict into a headless timm model; classifier weights in the file are ignored."""
    state = load_state_dict(path)
    own = model.state_dict()
    unexpected = [k for k in state if k not in own]
    classifier = str(getattr(model, "pretrained_cfg", {}).get("classifier", "fc"))
    stray = [k for k in unexpected if not k.startswith(classifier + ".")]
    missing = [k for k in own if k not in state]
    if stray or missing:
        first = (missing or stray)[0]
        raise WeightsUnavailable(
            f"weights file {path} does not fit {type(model).__name__}: {'missing' if missing else 'unexpected'} tensor {first!r}"
        )
    try:
        model.load_state_dict({k: state[k] for k in own})
    except RuntimeError as exc:  # same names, other shapes: another variant of the architecture
        detail = (str(exc).strip().splitlines() or [""])[-1].strip()
        raise WeightsUnavailable(f"weights file {path} does not fit {type(model).__name__}: {detail}") from None
