"""The hooks a seambench plugin may implement. Each is handed a ``register`` callable.

    register(name, factory, *, options=(), positional=None, help="")

``factory(**options)`` builds the component; ``options`` is a sequence of ``seambench.Option``.
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

hookspec = pluggy.HookspecMarker("seambench")

Register = Callable[..., Any]


@hookspec
def register_datasets(register: Register) -> None:
    """Register image sources: factories returning a ``seambench.Dataset``."""


@hookspec
def register_backbones(register: Register) -> None:
    """Register feature extractors: factories returning an object with ``embed(images)``."""


@hookspec
def register_reducers(register: Register) -> None:
    """Register dimensionality reducers: factories returning an object with ``fit``/``transform``."""


@hookspec
def register_detectors(register: Register) -> None:
    """Register anomaly scorers: factories returning an object with ``fit``/``score``."""
