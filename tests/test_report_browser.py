"""The evaluation report, opened in a real headless browser (Debian's Chromium, driven directly).

A real calibrate + evaluate run writes ``report.html``; Chromium loads a copy of it to which a
script is appended that records, once the page has loaded, each image's ``naturalWidth`` and the
page's text into the DOM, which ``--dump-dom`` prints. Every plot must decode (``naturalWidth >
0``), and the figures a reader checks first (acc@1 of retrieval, the reranker alone and the
reported ranking, ECE and MCE of pairs and of P(top-1 correct), the fusion weight, the
risk-coverage table and plot, the per-group table) must be on the page with the values of
``evaluation_results.json``. A screenshot
must show more than a blank page. Skipped, with the reason, where Chromium is not installed
(``apt-get install -y chromium``; ``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from xenc_toolkit.config import CalibrateConfig, EvaluateConfig
from xenc_toolkit.evaluation.report import _fmt

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
PROBE = """
<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images).map(i => ({alt: i.alt, width: i.naturalWidth, complete: i.complete}));
  const out = document.createElement("pre");
  out.id = "xenc-probe";
  out.textContent = JSON.stringify({images: images, text: document.body.innerText});
  document.body.appendChild(out);
});
</script>
"""


def _browser() -> str | None:
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    return None


def _chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
    ]
    return subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, tiny_model, tiny_pipeline):
    from xenc_toolkit import api

    root = tmp_path_factory.mktemp("browser-report")
    model_dir = shutil.copytree(tiny_model, root / "model")
    api.calibrate(
        CalibrateConfig(model_dir=model_dir, pairs_dir=tiny_pipeline["pairs"], split="dev", folds=3, min_examples=20)
    )
    results = api.evaluate(
        EvaluateConfig(model_dir=model_dir, pairs_dir=tiny_pipeline["pairs"], split="dev", output_dir=root / "results")
    )
    return root / "results", results


def test_report_html_in_a_headless_browser(tmp_path, evaluated):
    binary = _browser()
    if binary is None:
        pytest.skip("no Chromium on this machine: apt-get install -y chromium (.ci/run installs it)")
    results_dir, results = evaluated
    page = (results_dir / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page  # the report itself is static; the probe goes into a copy
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")

    done = _chromium(binary, tmp_path / "profile", "--dump-dom", probed.as_uri())
    assert done.returncode == 0, done.stderr[-3000:]
    start = done.stdout.index('<pre id="xenc-probe">') + len('<pre id="xenc-probe">')
    import html

    probe = json.loads(html.unescape(done.stdout[start : done.stdout.index("</pre>", start)]))

    plots = results["plots"]
    assert len(probe["images"]) == len(plots) >= 6  # the risk-coverage plot among them
    assert {image["alt"] for image in probe["images"]} == {name.replace("_", " ") for name in plots}
    for image in probe["images"]:
        assert image["complete"] and image["width"] > 0, image

    text = probe["text"]
    linking, retrieval, pairs = results["linking_metrics"], results["retrieval_metrics"], results["overall_metrics"]
    selective = results["selective"]
    for label in (
        "Headline: retrieval vs reranked",
        "reranker alone (no retrieval score): acc@1 " + _fmt(linking["reranker_only_acc@1"]),
        "ECE (expected calibration error)",
        "MCE (maximum calibration error)",
        f"ECE of that probability: {_fmt(selective['ece_top1'])} (MCE {_fmt(selective['mce_top1'])})",
        "Selective linking",
        "Per semantic group",
        "Pairs by kind",
    ):
        assert label in text, label
    for value in (linking["acc@1"], retrieval["acc@1"], pairs["ece"], pairs["mce"], selective["aurc_xenc"]):
        assert _fmt(value) in text, value
    weight = linking["fusion_weight"]
    assert ("no fusion fitted" if weight is None else f"reranker logit + {_fmt(weight)} x retrieval score") in text
    for group in results["per_group"]:
        assert group in text, group

    shot = tmp_path / "report.png"
    done = _chromium(binary, tmp_path / "profile2", f"--screenshot={shot}", "--window-size=1100,2400", probed.as_uri())
    assert done.returncode == 0 and shot.exists(), done.stderr[-3000:]
    pixels = imread(shot)
    assert pixels.shape[0] >= 2000 and pixels.shape[1] >= 1000
    assert np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0).shape[0] > 50  # text, tables and plots drawn
