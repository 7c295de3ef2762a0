"""Weight resolution for pretrained backbones: the order, the safe loading, and what a user sees offline."""

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from seambench import weights
from seambench.cli import main
from seambench.errors import SeambenchError, WeightsUnavailable
from seambench_plugins.backbones import ImagenetTimmBackbone

REQUEST = weights.WeightsRequest("resnet50", "a1_in1k", "timm/resnet50.a1_in1k", "https://example.invalid/resnet50_a1_0-14fe96d1.pth")


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def hub_file(tmp_path: Path, name: str = "model.safetensors") -> Path:
    """A file laid out the way huggingface_hub caches timm's download."""
    repo = tmp_path / "hf" / "hub" / "models--timm--resnet50.a1_in1k"
    touch(repo / "refs" / "main").write_text("abc123")
    return touch(repo / "snapshots" / "abc123" / name)


def test_pretrained_request_follows_timm_and_rejects_unknown_tags():
    request = weights.pretrained_request("resnet50")
    assert (request.name, request.hf_hub_id) == ("resnet50.a1_in1k", "timm/resnet50.a1_in1k")
    assert weights.pretrained_request("resnet50", "tv_in1k").name == "resnet50.tv_in1k"
    with pytest.raises(SeambenchError, match="no pretrained tag 'nope' for resnet50; available tags: .*tv_in1k"):
        weights.pretrained_request("resnet50", "nope")


def test_resolution_order_option_then_dir_then_hub_then_torch_hub(tmp_path, monkeypatch):
    assert weights.find_local(REQUEST) is None
    torch_file = touch(tmp_path / "torch" / "hub" / "checkpoints" / "resnet50_a1_0-14fe96d1.pth")
    assert weights.find_local(REQUEST) == weights.ResolvedWeights(torch_file, "torch hub cache")
    hub = hub_file(tmp_path)
    assert weights.find_local(REQUEST) == weights.ResolvedWeights(hub, "hugging face cache")
    folder = tmp_path / "weights"
    monkeypatch.setenv("SEAMBENCH_WEIGHTS_DIR", str(folder))
    pth = touch(folder / "resnet50.a1_in1k.pth")
    assert weights.find_local(REQUEST) == weights.ResolvedWeights(pth, "SEAMBENCH_WEIGHTS_DIR")
    safetensors = touch(folder / "resnet50.a1_in1k.safetensors")
    assert weights.find_local(REQUEST).path == safetensors  # .safetensors before .pth
    explicit = touch(tmp_path / "mine.pth")
    assert weights.find_local(REQUEST, explicit) == weights.ResolvedWeights(explicit, "weights option")
    with pytest.raises(SeambenchError, match="weights file .*missing.pth does not exist"):
        weights.find_local(REQUEST, tmp_path / "missing.pth")


def test_offline_with_nothing_cached_says_which_file_goes_where(tmp_path, monkeypatch):
    with pytest.raises(WeightsUnavailable) as info:
        weights.resolve(REQUEST, "imagenet-resnet50")
    assert "$SEAMBENCH_WEIGHTS_DIR/resnet50.a1_in1k.safetensors" in str(info.value)
    monkeypatch.setenv("SEAMBENCH_WEIGHTS_DIR", str(tmp_path / "w"))
    with pytest.raises(WeightsUnavailable, match=f"put the state dict at {tmp_path}/w/resnet50.a1_in1k.safetensors"):
        weights.resolve(REQUEST, "imagenet-resnet50")


@pytest.fixture(scope="module")
def tiny_state():
    import timm

    return timm.create_model("test_resnet", pretrained=False).state_dict()


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_backbone_loads_the_file_it_resolved(tmp_path, monkeypatch, tiny_state, suffix):
    from safetensors.torch import save_file

    folder = tmp_path / "w"
    folder.mkdir()
    path = folder / f"test_resnet.r160_in1k{suffix}"
    save_file(tiny_state, str(path)) if suffix == ".safetensors" else torch.save(tiny_state, path)
    monkeypatch.setenv("SEAMBENCH_WEIGHTS_DIR", str(folder))
    backbone = ImagenetTimmBackbone(model="test_resnet", size=32)
    loaded = backbone.model.state_dict()
    assert backbone.resolved == weights.ResolvedWeights(path, "SEAMBENCH_WEIGHTS_DIR")
    for key, value in loaded.items():
        torch.testing.assert_close(value, tiny_state[key])
    assert "fc.weight" not in loaded  # the ImageNet classifier is dropped
    assert backbone.identity()["weights_source"] == "SEAMBENCH_WEIGHTS_DIR"


def test_a_pickled_object_is_never_unpickled(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"conv1.weight": torch.zeros(1), "payload": Path("/")}, path)
    with pytest.raises(WeightsUnavailable, match="cannot read weights file .*evil.pth as a state dict"):
        weights.load_state_dict(path)


def test_weights_of_another_architecture_are_refused(tmp_path, tiny_state):
    import timm

    path = tmp_path / "other.pth"
    torch.save(tiny_state, path)
    with pytest.raises(WeightsUnavailable, match="does not fit"):
        weights.load_into(timm.create_model("resnet18", pretrained=False, num_classes=0), path)


def run_cli(*args: str):
    return CliRunner().invoke(main, list(args))


def test_resnet50_is_skipped_offline_then_runs_with_a_weights_file(easy_folder, tmp_path, monkeypatch):
    args = ["run", "--dataset", f"folder:path={easy_folder},failing=C", "--backbone", "histogram:bins=16",
            "--backbone", "imagenet-resnet50:size=32", "--reducer", "none", "--detector", "knn:k=3"]
    first = run_cli(*args, "--results", str(tmp_path / "r1"))
    assert first.exit_code == 0, first.output
    board = pd.read_csv(next((tmp_path / "r1").iterdir()) / "leaderboard.csv")
    row = board[board.backbone == "imagenet-resnet50:size=32"].iloc[0]
    assert row.status == "skipped"
    assert "put the state dict at $SEAMBENCH_WEIGHTS_DIR/resnet50.a1_in1k.safetensors" in row.message
    assert board[board.backbone == "histogram:bins=16"].iloc[0].status == "ok"
    listing = run_cli("weights")
    assert listing.exit_code == 0 and "imagenet-resnet50" in listing.output and "resnet50.a1_in1k.safetensors" in listing.output

    import timm
    from safetensors.torch import save_file

    folder = tmp_path / "w"
    folder.mkdir()
    save_file(timm.create_model("resnet50", pretrained=False).state_dict(), str(folder / "resnet50.a1_in1k.safetensors"))
    monkeypatch.setenv("SEAMBENCH_WEIGHTS_DIR", str(folder))
    second = run_cli(*args, "--results", str(tmp_path / "r2"))
    assert second.exit_code == 0, second.output
    run = next((tmp_path / "r2").iterdir())
    board = pd.read_csv(run / "leaderboard.csv")
    assert set(board.status) == {"ok"}
    assert json.loads((run / "run.json").read_text())["images_embedded"]["imagenet-resnet50:size=32"] == 24
    listing = run_cli("weights")
    flat = "".join(ch for ch in listing.output if ch not in " \n│")
    assert f"{folder}/resnet50.a1_in1k.safetensors(SEAMBENCH_WEIGHTS_DIR)" in flat


def test_fetch_offline_fails_with_one_line_naming_the_fix():
    result = run_cli("weights", "fetch", "imagenet-resnet50")
    assert result.exit_code == 2
    assert result.output.startswith("error: cannot download resnet50.a1_in1k: the network is switched off")
    assert "$SEAMBENCH_WEIGHTS_DIR/resnet50.a1_in1k.safetensors" in result.output


def test_missing_weights_option_file_stops_before_a_run_folder(easy_folder, tmp_path):
    result = run_cli("run", "--dataset", f"folder:path={easy_folder},failing=C", "--backbone", f"imagenet-resnet50:weights={tmp_path}/no.pth",
                     "--reducer", "none", "--detector", "knn:k=3", "--results", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert f"weights file {tmp_path}/no.pth does not exist" in result.output
    assert not (tmp_path / "out").exists()
