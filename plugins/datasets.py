"""Built-in datasets: ``folder`` (your own images) and ``sideseam`` (the embedded synthetic default)."""

from __future__ import annotations

import io
from functools import partial
from pathlib import Path

import numpy as np

from seambench import FAIL, PASS, Dataset, ImageRecord, Option, SeambenchError, hookimpl
from seambench.data import digest_array, digest_bytes, to_gray_uint8

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
BYTES_COLUMNS = ("image", "bytes", "image_bytes")
LABEL_WORDS = {"pass": PASS, "fail": FAIL}


def split_settings(text: str) -> tuple[str, ...]:
    """``C+D`` → ("C", "D"); '+' because ',' separates spec options."""
    return tuple(s.strip() for s in text.split("+") if s.strip())


def decode_image(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        if img.mode not in ("L", "I;16", "I"):
            img = img.convert("L")
        return to_gray_uint8(np.asarray(img))


def _read_file(path: Path) -> np.ndarray:
    return decode_image(path.read_bytes())


def _file_record(path: Path, key: str, setting: str, label: str | None) -> ImageRecord:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SeambenchError(f"cannot read image {path}: {exc.strerror}; fix the path or remove the row") from None
    return ImageRecord(key, setting, label, digest_bytes(data), partial(_read_file, path))


def _normalise_label(value: object, where: str) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
        return None
    label = LABEL_WORDS.get(str(value).strip().lower())
    if label is None:
        raise SeambenchError(f"{where}: label {value!r} is neither PASS nor FAIL; fix the manifest's label column")
    return label


def folder_records(root: Path) -> list[ImageRecord]:
    """One subfolder per setting; images found recursively inside each."""
    settings = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not settings:
        raise SeambenchError(f"dataset folder {root} has no subfolders; put each setting's images in DIR/<setting>/")
    records = []
    for setting_dir in settings:
        for path in sorted(setting_dir.rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                records.append(_file_record(path, path.relative_to(root).as_posix(), setting_dir.name, None))
    return records


def manifest_records(manifest: Path) -> list[ImageRecord]:
    """A CSV or Parquet table: ``path`` (or an image-bytes column), ``setting``, optional ``label``."""
    import pandas as pd

    try:
        table = pd.read_parquet(manifest) if manifest.suffix.lower() == ".parquet" else pd.read_csv(manifest)
    except Exception as exc:
        raise SeambenchError(f"cannot read manifest {manifest}: {exc}") from None
    columns = set(table.columns)
    bytes_column = next((c for c in BYTES_COLUMNS if c in columns), None)
    if "setting" not in columns or ("path" not in columns and bytes_column is None):
        raise SeambenchError(
            f"manifest {manifest} needs columns 'setting' and 'path' (or image bytes in one of"
            f" {', '.join(BYTES_COLUMNS)}); it has: {', '.join(map(str, table.columns))}"
        )
    base = manifest.parent
    records = []
    for i, row in enumerate(table.itertuples(index=False)):
        row = row._asdict()
        where = f"manifest {manifest} row {i + 2 if manifest.suffix.lower() == '.csv' else i}"
        setting = str(row["setting"]).strip()
        label = _normalise_label(row.get("label"), where)
        if bytes_column is not None and row.get(bytes_column) is not None:
            data = bytes(row[bytes_column])
            key = str(row["path"]) if "path" in row and isinstance(row["path"], str) else f"row{i}"
            records.append(ImageRecord(key, setting, label, digest_bytes(data), partial(decode_image, data)))
        else:
            path = Path(str(row["path"]))
            path = path if path.is_absolute() else base / path
            if not path.is_file():
                raise SeambenchError(f"{where}: image {path} does not exist; paths are relative to the manifest's folder")
            records.append(_file_record(path, str(row["path"]), setting, label))
    return records


def folder_dataset(path: str, failing: str) -> Dataset:
    root = Path(path).expanduser()
    if not root.exists():
        raise SeambenchError(f"dataset folder: {root} does not exist; give folder:path=DIR or a .csv/.parquet manifest")
    if root.is_file():
        if root.suffix.lower() not in (".csv", ".parquet"):
            raise SeambenchError(f"dataset folder: {root} is a file but not a .csv or .parquet manifest")
        records = manifest_records(root)
    else:
        records = folder_records(root)
    if not records:
        raise SeambenchError(f"dataset folder: no images found under {root} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    return Dataset(f"folder:path={path}", tuple(records), split_settings(failing))


def _sideseam_image(images: np.ndarray, index: int) -> np.ndarray:
    return images[index]


def sideseam_dataset(per_setting: int, size: int, seed: int, severity: float, defect_fraction: float, failing: str) -> Dataset:
    from seambench_plugins import sideseam

    failing_settings = split_settings(failing)
    try:
        options = sideseam.SideseamOptions(
            per_setting=per_setting,
            size=size,
            seed=seed,
            severity=severity,
            defect_fraction=defect_fraction,
            failing=failing_settings,
        )
        data = sideseam.load_or_generate(options)
    except ValueError as exc:
        raise SeambenchError(f"dataset sideseam: {exc}") from None
    records = []
    counters: dict[str, int] = {}
    for i, (setting, label) in enumerate(zip(data.settings, data.labels)):
        n = counters[setting] = counters.get(setting, 0) + 1
        records.append(ImageRecord(f"{setting}/{n - 1:05d}", setting, label, digest_array(data.images[i]), partial(_sideseam_image, data.images, i)))
    return Dataset("sideseam", tuple(records), failing_settings)


def _sideseam_defaults():
    from seambench_plugins import sideseam

    return sideseam.SideseamOptions()


@hookimpl
def register_datasets(register) -> None:
    register(
        "folder",
        folder_dataset,
        positional="path",
        options=[
            Option("path", str, None, "a directory with one subfolder per setting, or a .csv/.parquet manifest", required=True),
            Option("failing", str, "", "default held-out settings, '+'-separated (e.g. C+D)"),
        ],
        help="your own images: DIR/<setting>/*.png, or a manifest with path, setting, label",
    )
    defaults = _sideseam_defaults()
    register(
        "sideseam",
        sideseam_dataset,
        options=[
            Option("per_setting", int, defaults.per_setting, "images per machine setting"),
            Option("size", int, defaults.size, "image side in pixels"),
            Option("seed", int, defaults.seed, "generator seed"),
            Option("severity", float, defaults.severity, "how strong the failing setting's local defects are (0-1)"),
            Option("defect_fraction", float, defaults.defect_fraction, "fraction of failing images with a visible defect"),
            Option("failing", str, "+".join(defaults.failing), "failing settings, '+'-separated"),
        ],
        help="synthetic welded side seams, 12 machine settings A-L, C fails (embedded default)",
    )
