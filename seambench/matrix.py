"""Matrix files (TOML) and the axes a run is made of, after command-line selections are applied."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from seambench.errors import SeambenchError

_TOP_KEYS = {"dataset", "backbones", "reducers", "detectors", "protocol"}
_PROTOCOL_KEYS = {"holdout", "test_fraction", "seed"}


@dataclass(frozen=True)
class Matrix:
    """The axes of a run as spec strings, plus the protocol's settings."""

    dataset: str
    backbones: tuple[str, ...]
    reducers: tuple[str, ...]
    detectors: tuple[str, ...]
    holdout: tuple[str, ...] | None = None
    test_fraction: float = 0.2
    seed: int = 0
    source: str = "default"

    def with_overrides(self, **overrides: Any) -> "Matrix":
        """Replace the axes and protocol values the command line gave; keep the rest."""
        given = {k: v for k, v in overrides.items() if v not in (None, ())}
        return replace(self, **given)

    @property
    def n_cells(self) -> int:
        return len(self.backbones) * len(self.reducers) * len(self.detectors)


def default_matrix_text() -> str:
    return resources.files("seambench").joinpath("matrices/default.toml").read_text()


def _as_specs(value: Any, key: str, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
        raise SeambenchError(f"{where}: {key} must be a non-empty list of spec strings, e.g. {key} = [\"...\"]")
    return tuple(items)


def parse_matrix(text: str, where: str) -> Matrix:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SeambenchError(f"{where} is not valid TOML: {exc}") from None
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise SeambenchError(f"{where}: unknown key {sorted(unknown)[0]!r}; a matrix file has {', '.join(sorted(_TOP_KEYS))}")
    protocol = data.get("protocol", {})
    unknown = set(protocol) - _PROTOCOL_KEYS
    if unknown:
        raise SeambenchError(f"{where}: unknown [protocol] key {sorted(unknown)[0]!r}; allowed: {', '.join(sorted(_PROTOCOL_KEYS))}")
    dataset = data.get("dataset", "sideseam")
    if not isinstance(dataset, str):
        raise SeambenchError(f"{where}: dataset must be one spec string")
    missing = [k for k in ("backbones", "reducers", "detectors") if k not in data]
    if missing:
        raise SeambenchError(f"{where}: missing {missing[0]!r}; list its spec strings, e.g. {missing[0]} = [\"...\"]")
    holdout = protocol.get("holdout")
    return Matrix(
        dataset=dataset,
        backbones=_as_specs(data["backbones"], "backbones", where),
        reducers=_as_specs(data["reducers"], "reducers", where),
        detectors=_as_specs(data["detectors"], "detectors", where),
        holdout=None if holdout is None else _as_specs(holdout, "holdout", where),
        test_fraction=float(protocol.get("test_fraction", 0.2)),
        seed=int(protocol.get("seed", 0)),
        source=where,
    )


def load_matrix(path: str | Path | None) -> Matrix:
    """A matrix file, or the packaged default when ``path`` is None."""
    if path is None:
        return parse_matrix(default_matrix_text(), "default matrix")
    p = Path(path)
    if not p.is_file():
        raise SeambenchError(f"matrix file {p} does not exist; give a TOML file (see benchmarks/*.toml)")
    return parse_matrix(p.read_text(), str(p))
