import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import seambench
from seambench.cli import main
from seambench.errors import PluginError
from seambench.plugins import build_registry


def fake_plugin(component_name: str = "mean-pixel"):
    module = types.ModuleType("fake_plugin")

    class MeanPixel:
        def embed(self, images):
            return np.array([[img.mean(), img.std()] for img in images], dtype=np.float32)

    @seambench.hookimpl
    def register_backbones(register):
        register(component_name, MeanPixel, options=[seambench.Option("scale", float, 1.0)], help="mean and std")

    module.register_backbones = register_backbones
    return module


def test_builtins_register_every_family():
    registry = build_registry(entry_points=False)
    assert {"folder", "sideseam"} <= set(registry.names("dataset"))
    assert {"histogram", "timm", "imagenet-lite0"} <= set(registry.names("backbone"))
    assert registry.names("reducer") == ["none", "pca", "umap"]
    assert registry.names("detector") == ["knn", "pynndescent", "qdrant"]
    assert all(p.builtin and p.error is None for p in registry.plugins)


def test_third_party_plugin_registers_a_backbone():
    registry = build_registry([("fake", fake_plugin())], entry_points=False)
    spec = registry.resolve("backbone", "mean-pixel:scale=2")
    assert spec.definition.plugin == "fake"
    info = next(p for p in registry.plugins if p.name == "fake")
    assert info.registers == {"backbones": ("mean-pixel",)} and not info.builtin


def test_duplicate_component_names_both_plugins():
    with pytest.raises(PluginError, match=r"'histogram' is registered by both plugin 'builtin:backbones' and plugin 'fake'"):
        build_registry([("fake", fake_plugin("histogram"))], entry_points=False)


def test_broken_entry_point_is_reported_and_others_load(monkeypatch):
    class BrokenEntryPoint:
        name = "broken-plugin"
        dist = None

        def load(self):
            raise ImportError("No module named 'does_not_exist'")

    monkeypatch.setattr("importlib.metadata.entry_points", lambda group: [BrokenEntryPoint()])
    registry = build_registry()
    broken = next(p for p in registry.plugins if p.name == "broken-plugin")
    assert "ImportError" in broken.error and "does_not_exist" in broken.error
    assert "knn" in registry.names("detector")


def test_plugin_whose_hook_raises_is_reported():
    module = types.ModuleType("raising")

    @seambench.hookimpl
    def register_detectors(register):
        raise RuntimeError("boom")

    module.register_detectors = register_detectors
    registry = build_registry([("raising", module)], entry_points=False)
    info = next(p for p in registry.plugins if p.name == "raising")
    assert "register_detectors failed: RuntimeError: boom" == info.error


def test_plugins_json_lists_builtins():
    result = CliRunner().invoke(main, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    plugins = {p["name"]: p for p in json.loads(result.output)}
    assert plugins["builtin:detectors"]["registers"] == {"detectors": ["knn", "pynndescent"]}
    assert plugins["builtin:datasets"]["builtin"] is True


EXAMPLE_PLUGIN = Path(__file__).resolve().parents[1] / "examples" / "seambench-brightness"


def install_plugin_package(site: Path) -> None:
    """Install the README's example plugin as its own distribution, into a folder of its own."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(EXAMPLE_PLUGIN)],
        check=True, capture_output=True,
    )


def test_installed_third_party_plugin_is_listed_and_runs(tmp_path, easy_folder):
    site = tmp_path / "site"
    site.mkdir()
    install_plugin_package(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    cli = [sys.executable, "-m", "seambench.cli"]
    listed = subprocess.run([*cli, "plugins", "--json"], env=env, capture_output=True, text=True, check=True)
    plugin = next(p for p in json.loads(listed.stdout) if p["name"] == "brightness")
    assert plugin["version"] == "0.1.0" and plugin["registers"] == {"backbones": ["brightness"]}
    ran = subprocess.run(
        [*cli, "run", "--dataset", f"folder:path={easy_folder},failing=C", "--backbone", "brightness:points=7",
         "--reducer", "none", "--detector", "knn:k=3", "--results", str(tmp_path / "out")],
        env=env, capture_output=True, text=True,
    )
    assert ran.returncode == 0, ran.stderr
    csv = next((tmp_path / "out").glob("*/leaderboard.csv")).read_text()
    assert "brightness:points=7,none,knn:k=3,ok" in csv
