"""`seambench report`: one self-contained HTML page, checked as a file and rendered in headless Chromium."""

import base64
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from seambench.cli import main
from tests.conftest import write_setting_images

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    images = write_setting_images(root / "images", {"A": 60, "B": 80, "C": 150, "D": 100}, per_setting=8, size=24)
    results = root / "results"
    run = CliRunner().invoke(main, ["run", "--dataset", f"folder:path={images},failing=C", "--backbone", "histogram:bins=16",
                                    "--backbone", "timm:test_resnet,pretrained=false,size=32", "--reducer", "none",
                                    "--detector", "knn:k=3", "--results", str(results)])
    assert run.exit_code == 0, run.output
    (folder,) = results.iterdir()
    # A finetuned backbone would leave its curves here; the report must draw them.
    (folder / "backbones" / "histogram_bins=16" / "training.csv").write_text(
        "epoch,train_loss,train_acc,val_loss,val_acc\n1,1.2,0.4,1.3,0.35\n2,0.8,0.6,1.0,0.5\n3,0.6,0.7,0.9,0.55\n")
    result = CliRunner().invoke(main, ["report", folder.name, "--results", str(results)])
    assert result.exit_code == 0, result.output
    return folder / "report.html", result


def data_images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)]


def test_report_is_one_self_contained_file(report):
    path, result = report
    assert f"wrote {path}" in result.output
    page = path.read_text()
    # Nothing is fetched: no external URL and no script anywhere in the page.
    assert not re.search(r"(src|href)=['\"]?(https?:|//|file:)", page) and "<script" not in page
    pngs = data_images(page)
    # ROC curves + one scatter per backbone + the training curves.
    assert len(pngs) == 4
    for png in pngs:
        assert png.startswith(b"\x89PNG")
    assert "UMAP scatter of histogram:bins=16" in page and "UMAP scatter of timm:test_resnet" in page
    assert "alt='ROC curves'" in page and "training curves of histogram:bins=16" in page
    info_fingerprint = re.search(r"dataset fingerprint</th><td><code>([0-9a-f]{64})", page)
    assert info_fingerprint is not None


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless Chromium not installed (apt-get install -y chromium)")
def test_report_renders_in_headless_chromium_with_its_images(report, tmp_path):
    path, _ = report
    # A copy of the page with a probe: after load it writes whether every image decoded into the DOM.
    probe = path.read_text().replace("</body>", (
        "<script>window.addEventListener('load',()=>{const imgs=[...document.images];"
        "const ok=imgs.filter(i=>i.complete&&i.naturalWidth>100&&i.naturalHeight>100).length;"
        "const p=document.createElement('p');p.id='probe';p.textContent=`images ${ok}/${imgs.length}`;"
        "document.body.appendChild(p);});</script></body>"))
    probed = tmp_path / "probe.html"
    probed.write_text(probe)
    flags = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"]
    dom = subprocess.run([*flags, "--dump-dom", probed.as_uri()], capture_output=True, text=True, timeout=90)
    assert "images 4/4" in dom.stdout, dom.stdout[-500:] + dom.stderr[-2000:]
    console = [l for l in dom.stderr.splitlines() if "CONSOLE" in l]
    assert not console, console
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    subprocess.run([*flags, "--window-size=1280,2200", f"--screenshot={shot}", path.as_uri()],
                   capture_output=True, text=True, timeout=90, cwd=tmp_path)
    assert shot.is_file(), "Chromium wrote no screenshot"
    with Image.open(shot) as img:
        pixels = np.asarray(img.convert("RGB"))
    assert pixels.shape[:2] == (2200, 1280)
    # The scatter's red anomaly points and blue nominal-test points are on screen, not just white page.
    red = ((pixels[..., 0] > 180) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90)).sum()
    blue = ((pixels[..., 2] > 180) & (pixels[..., 0] < 90)).sum()
    assert red > 50 and blue > 50, (red, blue)
    print(f"screenshot: {shot}")
