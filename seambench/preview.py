"""A contact sheet of any dataset: one labelled row per setting, so a person can look at the data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from seambench.data import FAIL, Dataset, ImageRecord


def _thumbnail(record: ImageRecord, size: int) -> Image.Image:
    return Image.fromarray(record.load()).convert("L").resize((size, size), Image.Resampling.BILINEAR)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def contact_sheet(dataset: Dataset, per_row: int = 8, thumb: int = 112, prefer_fail: bool = True) -> Image.Image:
    """Rows A, B, …: the first ``per_row`` images of each setting (FAIL-labelled ones first)."""
    settings = dataset.settings
    margin, label_w, gap = 8, 150, 4
    width = label_w + per_row * (thumb + gap) + margin
    height = margin + len(settings) * (thumb + gap) + margin
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    title_font, small_font = _font(22), _font(13)
    failing = set(dataset.default_holdout)
    for row, setting in enumerate(settings):
        records = [r for r in dataset.records if r.setting == setting]
        if prefer_fail:
            records.sort(key=lambda r: r.label != FAIL)
        y = margin + row * (thumb + gap)
        n_fail = sum(r.label == FAIL for r in records)
        colour = (190, 20, 20) if setting in failing or n_fail else (20, 20, 20)
        top = y + max(0, thumb // 2 - 30)
        draw.text((margin, top), setting, fill=colour, font=title_font)
        note = f"{len(records)} images"
        if setting in failing:
            note += "\nfailing setting"
        elif n_fail:
            note += f"\n{n_fail} FAIL"
        draw.multiline_text((margin, top + 26), note, fill=colour, font=small_font)
        for col, record in enumerate(records[:per_row]):
            x = label_w + col * (thumb + gap)
            sheet.paste(_thumbnail(record, thumb), (x, y))
            if record.label == FAIL:
                draw.rectangle([x, y, x + thumb - 1, y + thumb - 1], outline=(220, 30, 30), width=2)
    return sheet


def write_contact_sheet(dataset: Dataset, path: Path, per_row: int = 8, thumb: int = 112) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(dataset, per_row, thumb).save(path)
    return path
