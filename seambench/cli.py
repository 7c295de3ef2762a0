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
@click.option("--protocol", type=click.Choice(["holdout", "leave-one-setting-out"]), default="holdout", show_default=True,
              help="holdout: the failing settings held out once; leave-one-setting-out: every setting held out in turn.")
@click.option("--seeds", default=None, metavar="0,1,2", help="Repeat the split (and any finetuning) per seed; report mean ± std.")
@click.option("--bootstrap", type=click.IntRange(min=1), default=1000, show_default=True, help="Bootstrap resamples for each AUROC's 95% CI.")
@click.option("--ci-seed", type=int, default=0, show_default=True, help="Seed of the bootstrap resampling.")
@click.option("--no-cache", is_flag=True, help="Recompute embeddings and cells instead of reusing the cache.")
@click.option("--embeddings-dtype", type=click.Choice(["float32", "float16"]), default="float32", show_default=True,
              help="How embeddings are kept in the cache (and used): float16 halves their size.")
def run(matrix_file, dataset, backbones, reducers, detectors, holdout, test_fraction, seed, results_root,
        protocol, seeds, bootstrap, ci_seed, no_cache, embeddings_dtype) -> None:
    """Run every backbone × reducer × detector and print the AUROC leaderboard.

    Without --matrix the packaged default matrix still supplies any axis you do not select.
    """
    from seambench.experiment import execute, prepare
    from seambench.matrix import load_matrix
    from seambench.progress import RichProgress
    from seambench.results import read_run
    from seambench.significance import StatsSettings

    seed_list = _parse_seeds(seeds)
    if seed_list is not None and seed is not None:
        raise SeambenchError("give either --seed or --seeds, not both (--seeds 0,1,2 repeats the split per seed)")
    if seed_list is not None:
        seed = seed_list[0]

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
    stats = StatsSettings(bootstrap=bootstrap, ci_seed=ci_seed)
    argv = ["seambench", *sys.argv[1:]]
    multi = protocol != "holdout" or (seed_list is not None and len(seed_list) > 1)
    with err_console.status("preparing data and checking the protocol"):
        prepared = prepare(matrix, _registry())
        if multi:
            from seambench.multisplit import execute_splits, prepare_splits

            splits = prepare_splits(prepared, protocol, seed_list or [matrix.seed])
    if multi:
        with RichProgress(splits.n_cells, err_console) as progress:
            folder = execute_splits(splits, root, progress, argv=argv, stats=stats, use_cache=not no_cache,
                                    embeddings_dtype=embeddings_dtype)
    else:
        with RichProgress(len(prepared.jobs) * len(prepared.reducers) * len(prepared.detectors), err_console) as progress:
            folder, _ = execute(prepared, root, progress, argv=argv, stats=stats, use_cache=not no_cache,
                                embeddings_dtype=embeddings_dtype)
    frame, info = read_run(folder)
    _show(frame, info)
    extra = ", splits.csv" if multi else ""
    console.print(f"wrote {folder}/leaderboard.csv, run.json, scores.parquet{extra}", highlight=False)


def _parse_seeds(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise SeambenchError(f"--seeds {text!r} must be whole numbers separated by commas, e.g. --seeds 0,1,2") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise SeambenchError(f"--seeds {text!r} must name distinct seeds, e.g. --seeds 0,1,2")
    return seeds


def _show(frame, info) -> None:
    """A run's leaderboard: the single-split table, or the aggregated seeds / LOSO table."""
    if "protocol" in info:
        from seambench.multiboard import print_multi

        print_multi(frame, info, console)
    else:
        from seambench.leaderboard import print_leaderboard

        print_leaderboard(frame, info, console)


@main.command()
@click.argument("run_id", required=False)
@click.option("--results", "results_root", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--csv", "as_csv", is_flag=True, help="Print the CSV instead of the table.")
def leaderboard(run_id: str | None, results_root: Path | None, as_csv: bool) -> None:
    """Re-print a saved run's leaderboard (default: the latest run)."""
    from seambench.results import find_run, read_run

    folder = find_run(results_root or results_dir(), run_id)
    frame, info = read_run(folder)
    if as_csv:
        click.echo((folder / "leaderboard.csv").read_text(), nl=False)
    else:
        _show(frame, info)


@main.command()
@click.argument("run_a")
@click.argument("run_b")
@click.option("--results", "results_root", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--force", is_flag=True, help="Compare even when the data fingerprint or held-out settings differ.")
@click.option("--alpha", type=float, default=0.05, show_default=True, help="Significance level for flagging a change.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the comparison as CSV.")
def compare(run_a: str, run_b: str, results_root: Path | None, force: bool, alpha: float, as_csv: bool) -> None:
    """ΔAUROC per cell between two runs (B − A), with its 95% CI; significant changes flagged."""
    from rich.text import Text

    from seambench.compare import check_comparable, compare_runs, load_run
    from seambench.leaderboard import _ci, _num
    from seambench.results import find_run

    root = results_root or results_dir()
    a, b = (load_run(find_run(root, r)) for r in (run_a, run_b))
    warnings = check_comparable(a, b, force)
    frame, only_a, only_b = compare_runs(a, b, alpha=alpha)
    if frame.empty:
        raise SeambenchError(f"runs {a.folder.name} and {b.folder.name} have no cell in common; nothing to compare")
    if as_csv:
        click.echo(frame.to_csv(index=False, float_format="%.6g"), nl=False)
        return
    for w in warnings:
        err_console.print(f"[yellow]warning:[/] compared with --force although {w}", highlight=False, soft_wrap=True)
    table = Table(title=f"seambench compare · A = {a.folder.name} (seed {a.info.get('seed')}) · B = {b.folder.name} (seed {b.info.get('seed')})",
                  header_style="bold")
    with_split = bool(frame["split"].astype(bool).any())
    for col in (["split"] if with_split else []) + ["backbone", "reducer", "detector", "AUROC A", "AUROC B", "Δ (B−A)", "95% CI of Δ", "p", "test", "change"]:
        table.add_column(col, justify="left" if col in ("split", "backbone", "reducer", "detector", "test", "change") else "right")
    for row in frame.itertuples(index=False):
        style = {"better": "green", "worse": "red"}.get(row.change, "")
        mark = {"better": "▲ better", "worse": "▼ worse"}.get(row.change, "")
        table.add_row(*([row.split] if with_split else []), row.backbone, row.reducer, row.detector, _num(row.auroc_a),
                      _num(row.auroc_b), f"{row.delta:+.3f}", _ci(row.delta_lo, row.delta_hi), f"{row.p:.3g}", row.test,
                      Text(mark, style=style))
    console.print(table)
    n_sig = int((frame["change"] != "").sum())
    console.print(f"{n_sig} of {len(frame)} cells changed significantly (p < {alpha:g});"
                  " paired = same test images (DeLong on correlated ROC curves), unpaired = independent test sets", highlight=False)
    for name, only in (("A", only_a), ("B", only_b)):
        if only:
            console.print(f"only in {name}: {', '.join(only)}", highlight=False, soft_wrap=True)


@main.command()
@click.argument("run_id", required=False)
@click.option("--results", "results_root", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--projection", type=click.Choice(["umap", "pca"]), default="umap", show_default=True,
              help="2-D projection of the embeddings (UMAP falls back to PCA when it cannot run).")
@click.option("--top", type=click.IntRange(min=1), default=5, show_default=True, help="ROC curves of this many top rows.")
def report(run_id: str | None, results_root: Path | None, projection: str, top: int) -> None:
    """Write RUN/report.html: one offline page with leaderboard, ROC curves, UMAP scatters, provenance."""
    from seambench.report import build_report
    from seambench.results import find_run

    folder = find_run(results_root or results_dir(), run_id)
    with err_console.status("drawing the report"):
        out = build_report(folder, projection=projection, top=top)
    console.print(f"wrote {out}", highlight=False)


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


@main.group()
def cache() -> None:
    """Inspect or clear the cache (embeddings, generated data, checkpoints)."""


@cache.command(name="info")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def cache_info(as_json: bool) -> None:
    """Where the cache is and what it holds."""
    from seambench import cache as cache_store

    summary = cache_store.info()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    table = Table(title=f"seambench cache · {summary['path']}", header_style="bold")
    for col, justify in (("kind", "left"), ("entries", "right"), ("MiB", "right")):
        table.add_column(col, justify=justify)
    for kind, numbers in summary["kinds"].items():
        table.add_row(kind, str(numbers["entries"]), f"{numbers['bytes'] / 2**20:.1f}")
    console.print(table)


@cache.command(name="clear")
@click.argument("kind", required=False)
def cache_clear(kind: str | None) -> None:
    """Remove every cache entry, or only those of KIND (e.g. embeddings)."""
    from seambench import cache as cache_store

    freed = cache_store.clear(kind)
    console.print(f"freed {freed / 2**20:.1f} MiB", highlight=False)


@main.group()
def data() -> None:
    """Look at a dataset."""


@data.command()
@click.argument("dataset", default="sideseam")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="PNG to write (default: <results>/preview-<dataset>.png).")
@click.option("--per-row", type=click.IntRange(1, 64), default=8, show_default=True, help="Images shown per setting.")
@click.option("--thumb", type=click.IntRange(16, 512), default=112, show_default=True, help="Thumbnail side in pixels.")
def preview(dataset: str, out: Path | None, per_row: int, thumb: int) -> None:
    """Write a PNG contact sheet of DATASET: one labelled row per setting."""
    from seambench.experiment import build_dataset
    from seambench.preview import write_contact_sheet

    spec, ds = build_dataset(_registry(), dataset)
    path = out or results_dir() / f"preview-{spec.name}.png"
    write_contact_sheet(ds, path, per_row, thumb)
    console.print(f"wrote {path} ({len(ds.settings)} settings, {len(ds.records)} images)", highlight=False)
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
