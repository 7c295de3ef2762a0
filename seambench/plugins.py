"""The plugin host: built-ins from a fixed list, third parties from the ``seambench`` entry points.

A plugin that fails to import is recorded with its error and the others load on; two plugins that
register the same component name are an error naming both.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Callable, Iterable

import pluggy

from seambench import hookspecs
from seambench.errors import PluginError, SpecError
from seambench.specs import KINDS, ComponentDef, ComponentSpec, Option, parse_spec

ENTRY_POINT_GROUP = "seambench"

BUILTIN_PLUGINS = (
    "seambench_plugins.datasets",
    "seambench_plugins.backbones",
    "seambench_plugins.finetuned",
    "seambench_plugins.reducers",
    "seambench_plugins.detectors",
    "seambench_plugins.qdrant",
)

_HOOK_OF_KIND = {
    "dataset": "register_datasets",
    "backbone": "register_backbones",
    "reducer": "register_reducers",
    "detector": "register_detectors",
}

_PLURAL = {"dataset": "datasets", "backbone": "backbones", "reducer": "reducers", "detector": "detectors"}


@dataclass(frozen=True)
class PluginInfo:
    """A plugin as `seambench plugins` shows it."""

    name: str
    version: str
    builtin: bool
    registers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    error: str | None = None


class Registry:
    """All components by kind and name, and the plugins they came from."""

    def __init__(self) -> None:
        self.components: dict[str, dict[str, ComponentDef]] = {k: {} for k in KINDS}
        self.plugins: list[PluginInfo] = []

    def add(self, definition: ComponentDef) -> None:
        known = self.components[definition.kind]
        if definition.name in known:
            other = known[definition.name]
            raise PluginError(
                f"{definition.kind} {definition.name!r} is registered by both plugin {other.plugin!r}"
                f" and plugin {definition.plugin!r}; uninstall one or rename its component"
            )
        known[definition.name] = definition

    def names(self, kind: str) -> list[str]:
        return sorted(self.components[kind])

    def resolve(self, kind: str, text: str) -> ComponentSpec:
        """A spec string to a resolved component spec, or one line saying what is available."""
        parsed = parse_spec(text)
        definition = self.components[kind].get(parsed.name)
        if definition is None:
            available = ", ".join(self.names(kind)) or "none"
            raise SpecError(
                f"unknown {kind} {parsed.name!r} in {text!r}; available {_PLURAL[kind]}: {available}"
                f" (see `seambench list {_PLURAL[kind]}`)"
            )
        return definition.resolve(parsed, text)


def _make_register(registry: Registry, kind: str, plugin: str, names: list[str]) -> Callable[..., None]:
    def register(
        name: str,
        factory: Callable[..., Any],
        *,
        options: Iterable[Option] = (),
        positional: str | None = None,
        help: str = "",
    ) -> None:
        if not name or ":" in name or "," in name:
            raise PluginError(f"plugin {plugin!r} registers {kind} {name!r}: names may not contain ':' or ','")
        opts = tuple(options)
        if positional is not None and positional not in {o.name for o in opts}:
            raise PluginError(f"plugin {plugin!r}: {kind} {name!r} positional {positional!r} is not one of its options")
        registry.add(ComponentDef(kind, name, factory, opts, positional, help, plugin))
        names.append(name)

    return register


def _version_of(module_name: str, dist: importlib.metadata.Distribution | None) -> str:
    if dist is not None:
        return dist.version
    try:
        return importlib.metadata.version("seambench")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def build_registry(extra_plugins: Iterable[tuple[str, Any]] = (), *, entry_points: bool = True) -> Registry:
    """Load the built-ins, the entry-point plugins and any extra (name, module-or-object) plugins."""
    pm = pluggy.PluginManager("seambench")
    pm.add_hookspecs(hookspecs)
    registry = Registry()
    loaded: list[tuple[str, Any, bool, importlib.metadata.Distribution | None]] = []

    for module_name in BUILTIN_PLUGINS:
        short = "builtin:" + module_name.rsplit(".", 1)[-1]
        try:
            loaded.append((short, importlib.import_module(module_name), True, None))
        except Exception as exc:  # a broken built-in is reported, not fatal
            registry.plugins.append(PluginInfo(short, _version_of(module_name, None), True, error=_one_line(exc)))

    if entry_points:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded.append((ep.name, ep.load(), False, ep.dist))
            except Exception as exc:
                version = ep.dist.version if ep.dist is not None else "unknown"
                registry.plugins.append(PluginInfo(ep.name, version, False, error=_one_line(exc)))

    for name, obj in extra_plugins:
        loaded.append((name, obj, False, None))

    for name, obj, builtin, dist in loaded:
        try:
            pm.register(obj, name=name)
        except Exception as exc:  # pluggy rejects hookimpls that do not match the hookspecs
            registry.plugins.append(PluginInfo(name, _version_of(name, dist), builtin, error=_one_line(exc)))
            continue
        registers: dict[str, tuple[str, ...]] = {}
        error = None
        for kind, hook_name in _HOOK_OF_KIND.items():
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                if impl.plugin_name != name:
                    continue
                names: list[str] = []
                try:
                    impl.function(register=_make_register(registry, kind, name, names))
                except PluginError:
                    raise
                except Exception as exc:
                    error = f"{hook_name} failed: {_one_line(exc)}"
                if names:
                    registers[_PLURAL[kind]] = tuple(names)
        registry.plugins.append(PluginInfo(name, _version_of(name, dist), builtin, registers, error))
    return registry


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


@cache
def default_registry() -> Registry:
    """The registry of this process: built-ins plus installed entry-point plugins."""
    return build_registry()
