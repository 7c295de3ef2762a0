"""The `seambench` command line."""

from __future__ import annotations

import json
import sys
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from seambench.errors import SeambenchError
from seambench.paths import results_dir

# Piped or captured output gets a wide table instead of rich's 80-column fallback.
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True)

DEFAULT_MATRIX = "__default__"
KIND_OF = {"datasets": "dataset", "backbones": "backbone", "reducers": "reducer", "detectors": "detector"}


class SeambenchGroup(click.Group):
    """Turns user errors into one line and a non-zero exit; tracebacks only with --debug."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SeambenchError as exc:
            if ctx.meta.get("seambench.debug"):
                raise
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            ctx.exit(2)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if ctx.meta.get("seambench.debug"):
                raise
            first = (str(exc).strip().splitlines() or [""])[0]
            err_console.print(f"[bold red]error:[/] {type(exc).__name__}: {first} (run with --debug for the traceback)", highlight=False, soft_wrap=True)
            ctx.exit(1)


@click.group(cls=SeambenchGroup)
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@click.version_option(package_name="seambench")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Benchmark feature extractors × reducers × detectors on seam images, failing settings held out."""
    ctx.meta["seambench.debug"] = debug


def _registry():
    from seambench.plugins import default_registry

    return default_registry()


def _split_values(values: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for v in values:
        out.extend(s.strip() for s in v.split(",") if s.strip())
    return tuple(out)


@main.command()
@click.option("--matrix", "matrix_file", is_flag=False, flag_value=DEFAULT_MATRIX, default=None, metavar="[FILE.toml]",
              help="Run a matrix: the default one, or a TOML matrix file. Selections below override its axes.")
@click.option("--dataset", help="Dataset spec, e.g. sideseam or folder:path=DIR.")
@click.option("--backbone", "backbones", multiple=True, help="Backbone spec (repeatable).")
@click.option("--reducer", "reducers", multiple=True, help="Reducer spec (repeatable).")
@click.option("--detector", "detectors", multiple=True, help="Detector spec (repeatable).")
@click.option("--holdout", "holdout", multiple=True, help="Held-out (failing) setting, repeatable; 'none' uses PASS/FAIL labels alone.")
@click.option("--test-fraction", type=float, default=None, help="Share of each nominal setting kept for testing (default 0.2).")
@click.option("--seed", type=int, default=None, help="Seed of the nominal train/test split (default 0).")
@click.option("--results", "results_root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for run folders (default ./results, or $SEAMBENCH_RESULTS).")
def run(matrix_file, dataset, backbones, reducers, detectors, holdout, test_fraction, seed, results_root) -> None:
    """Run every backbone × reducer × detector and print the AUROC leaderboard.

    Without --matrix the packaged default matrix still supplies any axis you do not select.
    """
    from seambench.experiment import execute, prepare
    from seambench.leaderboard import print_leaderboard
    from seambench.matrix import load_matrix
    from seambench.progress import RichProgress
    from seambench.results import read_run

    matrix = load_matrix(None if matrix_file in (None, DEFAULT_MATRIX) else matrix_file)
    matrix = matrix.with_overrides(
        dataset=dataset,
        backbones=tuple(backbones),
        reducers=tuple(reducers),
        detectors=tuple(detectors),
        holdout=_split_values(holdout) or None,
        test_fraction=test_fraction,
        seed=seed,
    )
    root = results_root or results_dir()
    with err_console.status("preparing data and checking the protocol"):
        prepared = prepare(matrix, _registry())
    with RichProgress(len(prepared.jobs) * len(prepared.reducers) * len(prepared.detectors), err_console) as progress:
        folder, _ = execute(prepared, root, progress, argv=["seambench", *sys.argv[1:]])
    frame, info = read_run(folder)
    print_leaderboard(frame, info, console)
    console.print(f"wrote {folder}/leaderboard.csv, run.json, scores.parquet", highlight=False)


@main.command()
@click.argument("run_id", required=False)
@click.option("--results", "results_root", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--csv", "as_csv", is_flag=True, help="Print the CSV instead of the table.")
def leaderboard(run_id: str | None, results_root: Path | None, as_csv: bool) -> None:
    """Re-print a saved run's leaderboard (default: the latest run)."""
    from seambench.leaderboard import print_leaderboard
    from seambench.results import find_run, read_run

    folder = find_run(results_root or results_dir(), run_id)
    frame, info = read_run(folder)
    if as_csv:
        click.echo((folder / "leaderboard.csv").read_text(), nl=False)
    else:
        print_leaderboard(frame, info, console)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(as_json: bool) -> None:
    """List the loaded plugins, their versions and what each registers."""
    registry = _registry()
    if as_json:
        click.echo(json.dumps([asdict(p) for p in registry.plugins], indent=2))
        return
    table = Table(title="seambench plugins", header_style="bold")
    for col in ("plugin", "version", "kind", "registers"):
        table.add_column(col)
    for p in registry.plugins:
        kind = "built-in" if p.builtin else "third-party"
        registers = "; ".join(f"{k}: {', '.join(v)}" for k, v in p.registers.items())
        if p.error:
            registers = f"[red]failed to load: {p.error}[/red]" + (f" ({registers})" if registers else "")
        table.add_row(p.name, p.version, kind, registers)
    console.print(table)


@main.command(name="list")
@click.argument("kind", type=click.Choice(sorted(KIND_OF)))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_components(kind: str, as_json: bool) -> None:
    """Show the components of one kind with their options and defaults."""
    registry = _registry()
    defs = [registry.components[KIND_OF[kind]][n] for n in registry.names(KIND_OF[kind])]
    if as_json:
        click.echo(json.dumps([
            {"name": d.name, "plugin": d.plugin, "help": d.help, "positional": d.positional,
             "options": [{"name": o.name, "type": o.type.__name__, "default": o.default, "help": o.help,
                          "required": o.required} for o in d.options]}
            for d in defs
        ], indent=2, default=str))
        return
    table = Table(title=f"seambench {kind}", header_style="bold", show_lines=True)
    for col in ("name", "options (default)", "plugin", "what it is"):
        table.add_column(col)
    for d in defs:
        opts = "\n".join(
            f"{o.name}{' (bare)' if o.name == d.positional else ''}: {o.type.__name__} = "
            f"{'required' if o.required else repr(o.default)}" + (f" — {o.help}" if o.help else "")
            for o in d.options
        ) or "—"
        table.add_row(d.name, opts, d.plugin, d.help)
    console.print(table)


def _pretrained_backbones() -> list[tuple[str, Any]]:
    """Every registered backbone that can say where its weights are (``weights_status``), built with defaults."""
    from seambench.errors import WeightsUnavailable

    registry = _registry()
    out = []
    for name in registry.names("backbone"):
        definition = registry.components["backbone"][name]
        if any(o.required for o in definition.options) or not hasattr(definition.factory, "weights_status"):
            continue
        try:
            out.append((name, registry.resolve("backbone", name).build()))
        except WeightsUnavailable as exc:
            out.append((name, exc))
    return out


@main.group(invoke_without_command=True)
@click.pass_context
def weights(ctx: click.Context) -> None:
    """List each pretrained backbone and whether its weights are available here.

    Lookup order: weights=PATH, $SEAMBENCH_WEIGHTS_DIR/<model>.<tag>.safetensors (or .pth),
    timm's cache, then a download when online.
    """
    if ctx.invoked_subcommand is not None:
        return
    table = Table(title="seambench weights", header_style="bold")
    for col in ("backbone", "available", "where / what to do"):
        table.add_column(col, overflow="fold")
    for name, built in _pretrained_backbones():
        ok, where = (False, str(built)) if isinstance(built, Exception) else built.weights_status()
        table.add_row(name, "[green]yes[/green]" if ok else "[red]no[/red]", where)
    console.print(table)


@weights.command()
@click.argument("name")
def fetch(name: str) -> None:
    """Download NAME's weights into timm's cache (needs the network once)."""
    from seambench.errors import SeambenchError

    spec = _registry().resolve("backbone", name)
    built = spec.build()
    if not hasattr(built, "fetch"):
        if hasattr(built, "weights_status") and built.weights_status()[0]:
            console.print(f"{spec.label}: weights are already here: {built.weights_status()[1]}", highlight=False)
            return
        raise SeambenchError(f"backbone {spec.label!r} has no weights to fetch; see `seambench weights`")
    path = built.fetch()
    console.print(f"{spec.label}: weights at {path}", highlight=False)


if __name__ == "__main__":  # pragma: no cover
    main()
