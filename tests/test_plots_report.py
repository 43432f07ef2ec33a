"""Plots are valid PNGs; the Markdown/HTML report holds the headline numbers and the plots."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest
from matplotlib.image import imread

from xenc_toolkit.evaluation.metrics import (
    calibration_errors,
    grouped_linking_metrics,
    linking_metrics,
    pair_metrics,
    stage3_metrics,
)
from xenc_toolkit.evaluation.plots import (
    group_accuracy_bars,
    pr_curve,
    reliability_diagram,
    roc_curve,
    score_histograms,
)
from xenc_toolkit.evaluation.report import write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def scored():
    rng = np.random.default_rng(0)
    logits = rng.normal(-1.5, 3.0, 3_000)
    labels = (rng.random(3_000) < 1 / (1 + np.exp(-logits / 2))).astype(int)
    return labels, 1 / (1 + np.exp(-logits))


@pytest.fixture(scope="module")
def per_type():
    rng = np.random.default_rng(1)
    tuis = ["T047", "T121", "T109", "T033", "T023", "T191", "T061"]
    groups = [tuple(rng.choice(tuis, size=rng.integers(1, 3), replace=False)) for _ in range(300)]
    reranked = rng.integers(-1, 8, 300)
    retrieval = rng.integers(-1, 8, 300)
    return grouped_linking_metrics(reranked, retrieval, groups, n_candidates=8)


def _check_png(path, min_bytes: int = 8_000):
    assert path.exists()
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > min_bytes
    image = imread(path)
    assert image.shape[0] > 200 and image.shape[1] > 200


def test_plots_are_valid_pngs(tmp_path, scored, per_type):
    labels, probs = scored
    paths = [
        reliability_diagram(labels, probs, tmp_path / "plots" / "reliability.png", n_bins=15),
        pr_curve(labels, probs, tmp_path / "plots" / "pr.png"),
        roc_curve(labels, probs, tmp_path / "plots" / "roc.png", title="ROC"),
        score_histograms(labels, probs, tmp_path / "plots" / "hist.png"),
        group_accuracy_bars(per_type, tmp_path / "plots" / "types.png", names={"T047": "Disease or Syndrome"}),
    ]
    for path in paths:
        _check_png(path)
    # no temporary files left behind by the atomic writes
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == sorted(p.name for p in paths)


def test_plots_survive_degenerate_inputs(tmp_path):
    one_class = (np.zeros(20, dtype=int), np.linspace(0, 1, 20))
    empty = (np.array([], dtype=int), np.array([]))
    for i, (labels, probs) in enumerate([one_class, empty]):
        for fn in (reliability_diagram, pr_curve, roc_curve, score_histograms):
            _check_png(fn(labels, probs, tmp_path / f"{fn.__name__}_{i}.png"), min_bytes=3_000)
    _check_png(group_accuracy_bars({}, tmp_path / "groups_empty.png"), min_bytes=3_000)
    no_base = {"T047": {"acc@1": 0.5, "n_mentions": 10}}
    _check_png(group_accuracy_bars(no_base, tmp_path / "groups_nobase.png"), min_bytes=3_000)


def _results(scored, per_type):
    labels, probs = scored
    reranked = np.array([0, 0, 1, -1, 0, 2, 0, -1])
    retrieval = np.array([1, 0, 3, -1, 2, 2, 0, -1])
    in_kb = np.array([True] * 7 + [False])
    return {
        "overall_metrics": pair_metrics(labels, probs, threshold=0.5),
        "linking_metrics": linking_metrics(reranked, 8, gold_in_kb=in_kb),
        "retrieval_metrics": linking_metrics(retrieval, 8, gold_in_kb=in_kb),
        "stage3_metrics": stage3_metrics([0.95, 0.6, 0.92, 0.3], [0.01, 0.3, 0.05, 0.2], high_confidence=0.9),
        "per_type": per_type,
        "per_group": {"DISO": {"acc@1": 0.61, "retrieval_acc@1": 0.5, "recall@5": 0.8, "mrr": 0.7, "n_mentions": 120}},
        "calibration": {
            "method": "temperature",
            "ece": calibration_errors(labels, probs)["ece"],
            "cv_report": {
                "temperature": {"brier": 0.1, "ece": 0.02, "log_loss": 0.3, "n_folds": 5},
                "isotonic": {"brier": 0.11, "ece": 0.03, "log_loss": 0.5, "n_folds": 5},
            },
        },
        "counts": {"mentions": 8, "pairs": 3000},
        "config": {"model_dir": "xenc-output/model/best", "split": "dev", "n_bins": 15},
    }


def test_report_markdown_and_html(tmp_path, scored, per_type):
    labels, probs = scored
    plots = {
        "reliability_diagram": reliability_diagram(labels, probs, tmp_path / "plots" / "reliability.png"),
        "roc_curve": roc_curve(labels, probs, tmp_path / "plots" / "roc.png"),
    }
    results = _results(scored, per_type)
    written = write_report(results, tmp_path, plots)
    assert set(written) == {"markdown", "html"}
    md = written["markdown"].read_text(encoding="utf-8")
    assert written["markdown"] == tmp_path / "report.md"

    # headline: retrieval acc@1 2/8, reranked 4/8, gain +0.25; MRR of both
    headline = re.search(r"\| acc@1 \| (\S+) \| (\S+) \| (\S+) \|", md)
    assert headline and headline.groups() == ("0.2500", "0.5000", "+0.2500")
    assert f"| MRR | {results['retrieval_metrics']['mrr']:.4f} | {results['linking_metrics']['mrr']:.4f} |" in md
    assert "recall@8" in md
    assert "gold concept not in the KB (counted as misses): 1" in md
    # pair metrics, confusion matrix, calibration, stage 3 with definitions, groups
    assert f"| ROC AUC | {results['overall_metrics']['roc_auc']:.4f} |" in md
    cm = results["overall_metrics"]["confusion_matrix"]
    assert f"| actual positive | {cm['tp']:,} | {cm['fn']:,} |" in md
    assert "temperature (selected)" in md
    assert "| high_confidence_pct | 50.00% |" in md
    assert "top candidate's calibrated probability" in md
    assert "Disease or Syndrome" in md and "Disorders" in md
    # plots linked by relative path
    assert "![reliability diagram](<plots/reliability.png>)" in md
    assert str(tmp_path) not in md.split("## Configuration")[0]

    page = written["html"].read_text(encoding="utf-8")
    images = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', page)
    assert len(images) == 2
    assert base64.b64decode(images[0]) == plots["reliability_diagram"].read_bytes()
    assert "plots/reliability.png" not in page  # self-contained
    assert "+0.2500" in page and "<table>" in page


def test_report_without_optional_sections(tmp_path, scored, per_type):
    results = _results(scored, per_type)
    for key in ("retrieval_metrics", "per_group", "calibration", "counts", "config"):
        results.pop(key)
    written = write_report(results, tmp_path / "out", {}, html=False)
    assert set(written) == {"markdown"} and not (tmp_path / "out" / "report.html").exists()
    md = written["markdown"].read_text(encoding="utf-8")
    assert "| acc@1 | 0.5000 |" in md and "## Calibration" not in md and "## Plots" not in md


def test_report_notes_a_missing_plot(tmp_path, scored, per_type):
    written = write_report(_results(scored, per_type), tmp_path, {"pr_curve": tmp_path / "missing.png"})
    assert "plot missing" in written["markdown"].read_text(encoding="utf-8")
    assert "plot missing" in written["html"].read_text(encoding="utf-8")
