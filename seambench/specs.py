"""Component specs: ``name[:positional][,key=value,...]``, parsed, typed and made canonical.

The canonical string (defaults dropped, options in declared order) is a cell's row label, so two
spellings of the same component land on the same leaderboard row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from seambench.errors import SpecError

KINDS = ("dataset", "backbone", "reducer", "detector")

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class Option:
    """One typed option of a component, with its default and a line of help."""

    name: str
    type: type = str
    default: Any = None
    help: str = ""
    choices: tuple[Any, ...] | None = None
    required: bool = False

    def coerce(self, raw: str, where: str) -> Any:
        """Turn the raw text of a spec into this option's type, or say exactly what is wrong."""
        try:
            if self.type is bool:
                low = raw.strip().lower()
                if low in _TRUE:
                    value: Any = True
                elif low in _FALSE:
                    value = False
                else:
                    raise ValueError(raw)
            elif self.type is str:
                value = raw
            else:
                value = self.type(raw)
        except ValueError:
            raise SpecError(
                f"{where}: option {self.name}={raw!r} is not a valid {self.type.__name__}"
                f" (default {self.default!r})"
            ) from None
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(str(c) for c in self.choices)
            raise SpecError(f"{where}: option {self.name}={raw!r} must be one of: {allowed}")
        return value


@dataclass(frozen=True)
class ParsedSpec:
    """The syntax of a spec string, before it meets a component definition."""

    name: str
    positional: str | None
    options: tuple[tuple[str, str], ...]


def parse_spec(text: str) -> ParsedSpec:
    """Split ``name:pos,key=val`` into its parts; no knowledge of components here."""
    text = text.strip()
    if not text:
        raise SpecError("empty component spec: write NAME or NAME:key=value,...")
    name, _, rest = text.partition(":")
    name = name.strip()
    if not name:
        raise SpecError(f"spec {text!r} has no component name before ':'")
    positional: str | None = None
    options: list[tuple[str, str]] = []
    if rest:
        for i, part in enumerate(rest.split(",")):
            part = part.strip()
            if not part:
                raise SpecError(f"spec {text!r} has an empty item between commas")
            key, eq, value = part.partition("=")
            if not eq:
                if i != 0:
                    raise SpecError(
                        f"spec {text!r}: {part!r} needs the form key=value"
                        " (only the first item after ':' may stand alone)"
                    )
                positional = part
                continue
            key = key.strip()
            if any(k == key for k, _ in options):
                raise SpecError(f"spec {text!r} sets option {key!r} twice")
            options.append((key, value.strip()))
    return ParsedSpec(name, positional, tuple(options))


@dataclass(frozen=True)
class ComponentDef:
    """What a plugin registers: a named factory with typed options.

    ``positional`` names the option that may be written bare after the colon
    (``timm:resnet18`` sets ``model``); ``factory(**options)`` builds the component.
    """

    kind: str
    name: str
    factory: Callable[..., Any]
    options: tuple[Option, ...] = ()
    positional: str | None = None
    help: str = ""
    plugin: str = ""

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)

    def resolve(self, parsed: ParsedSpec, text: str) -> "ComponentSpec":
        """Check a parsed spec against this definition and fill in defaults."""
        where = f"{self.kind} {text!r}"
        given: dict[str, Any] = {}
        if parsed.positional is not None:
            if self.positional is None:
                raise SpecError(
                    f"{where}: {self.name} takes no bare argument; write key=value"
                    f" (options: {self.options_line()})"
                )
            opt = self.option(self.positional)
            assert opt is not None, f"{self.name}: positional {self.positional} is not an option"
            given[opt.name] = opt.coerce(parsed.positional, where)
        for key, raw in parsed.options:
            opt = self.option(key)
            if opt is None:
                raise SpecError(
                    f"{where}: unknown option {key!r}; {self.name} takes: {self.options_line()}"
                )
            if key in given:
                raise SpecError(f"{where}: option {key!r} given twice")
            given[key] = opt.coerce(raw, where)
        values = {o.name: given.get(o.name, o.default) for o in self.options}
        missing = [o.name for o in self.options if o.required and o.name not in given]
        if missing:
            example = f"{self.name}:<{missing[0]}>" if missing[0] == self.positional else f"{self.name}:{missing[0]}=..."
            raise SpecError(f"{where}: {self.name} needs option {missing[0]!r}, e.g. {example}")
        return ComponentSpec(self.kind, self.name, tuple(values.items()), self)

    def options_line(self) -> str:
        if not self.options:
            return "no options"
        return ", ".join(f"{o.name}={o.default!r}" for o in self.options)


@dataclass(frozen=True)
class ComponentSpec:
    """A resolved component: its definition and every option's value (defaults included)."""

    kind: str
    name: str
    values: tuple[tuple[str, Any], ...]
    definition: ComponentDef = field(compare=False, repr=False)

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.values)

    @property
    def label(self) -> str:
        """Canonical spec string: positional first, then non-default options in declared order."""
        d = self.definition
        parts: list[str] = []
        opts = self.options
        if d.positional is not None and opts.get(d.positional) is not None:
            parts.append(_fmt(opts[d.positional]))
        for o in d.options:
            if o.name == d.positional:
                continue
            if opts[o.name] != o.default:
                parts.append(f"{o.name}={_fmt(opts[o.name])}")
        return self.name + (":" + ",".join(parts) if parts else "")

    def build(self) -> Any:
        return self.definition.factory(**self.options)

    def to_json(self) -> dict[str, Any]:
        return {"spec": self.label, "name": self.name, "plugin": self.definition.plugin, "options": self.options}


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    return str(value)
