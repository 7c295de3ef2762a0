from click.testing import CliRunner
from PIL import Image

from seambench.cli import main


def test_preview_of_sideseam_has_a_row_per_setting(tmp_path):
    out = tmp_path / "sheet.png"
    result = CliRunner().invoke(main, ["data", "preview", "sideseam:per_setting=3,size=64", "--out", str(out),
                                       "--per-row", "3", "--thumb", "64"])
    assert result.exit_code == 0, result.output
    assert "12 settings, 36 images" in result.output
    sheet = Image.open(out)
    assert sheet.height == 8 + 12 * (64 + 4) + 8  # margins plus one row per setting
    assert sheet.width == 150 + 3 * (64 + 4) + 8


def test_preview_of_a_folder_dataset(easy_folder, tmp_path):
    out = tmp_path / "folder.png"
    result = CliRunner().invoke(main, ["data", "preview", f"folder:path={easy_folder}", "--out", str(out), "--thumb", "32"])
    assert result.exit_code == 0, result.output
    assert Image.open(out).height == 8 + 4 * (32 + 4) + 8


def test_preview_of_a_missing_folder_is_one_line(tmp_path):
    result = CliRunner().invoke(main, ["data", "preview", f"folder:path={tmp_path}/none"])
    assert result.exit_code == 2
    assert result.output.strip().startswith("error:") and "does not exist" in result.output
