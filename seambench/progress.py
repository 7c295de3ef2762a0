"""Rich progress bars for a run: one bar per backbone's extraction, one for the cells."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from seambench.runner import CellResult


class RichProgress:
    """An Observer that draws progress on stderr, so stdout stays the leaderboard."""

    def __init__(self, n_cells: int, console: Console | None = None) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self.cells = self.progress.add_task("cells", total=n_cells)
        self.extract: dict[str, int] = {}
        self.training: dict[str, int] = {}

    def __enter__(self) -> "RichProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def backbone_started(self, label: str, n_images: int) -> None:
        what = f"embed {label}" if n_images else f"embed {label} (from cache)"
        self.extract[label] = self.progress.add_task(what, total=n_images or 1, completed=0 if n_images else 1)

    def images_embedded(self, label: str, n: int) -> None:
        self.progress.advance(self.extract[label], n)

    def cell_finished(self, cell: CellResult) -> None:
        self.progress.advance(self.cells)

    def training_progress(self, label: str, epoch: int, epochs: int) -> None:
        """Epochs done of a backbone that trains before it embeds."""
        if label not in self.training:
            self.training[label] = self.progress.add_task(f"train {label}", total=epochs)
        self.progress.update(self.training[label], completed=epoch, total=epochs)
