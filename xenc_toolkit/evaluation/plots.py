"""Evaluation plots: reliability diagram, PR and ROC curves, score histograms, per-group accuracy.

Every function draws one PNG with a title, axis labels, a legend and a grid, writes it
atomically and returns its path. Figures are built with the object-oriented API on
the Agg canvas (no pyplot, no global backend switch), so plotting is safe in any
process, headless or not.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn import metrics as skm

from ..utils.io import atomic_write_bytes
from .metrics import bin_edges, calibration_errors

__all__ = ["reliability_diagram", "pr_curve", "roc_curve", "score_histograms", "group_accuracy_bars"]

DPI = 120
POS_COLOR = "#1b7837"
NEG_COLOR = "#b2182b"
MAIN_COLOR = "#2166ac"
BASE_COLOR = "#999999"


def _figure(width: float = 6.4, height: float = 5.2) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return atomic_write_bytes(path, buffer.getvalue())


def _inputs(labels, probs) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).astype(np.int64).reshape(-1)
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    if y.size != p.size:
        raise ValueError(f"labels and probs differ in length ({y.size} vs {p.size})")
    return y, p


def _note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=11, color="#555555")


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


# --------------------------------------------------------------------------- reliability
def reliability_diagram(labels, probs, path, n_bins: int = 15, title: str | None = None) -> Path:
    """Fraction of positives against mean predicted probability per equal-width bin.

    Top: one bar per non-empty bin at its observed fraction of positives, the bin's mean
    probability as a point, the perfect-calibration diagonal and ECE/MCE in the legend.
    Bottom: pairs per bin (log scale when counts span more than two orders of magnitude).
    """
    y, p = _inputs(labels, probs)
    cal = calibration_errors(y, p, n_bins=n_bins)
    edges = bin_edges(n_bins)
    width = 1.0 / n_bins
    bins = cal["bins"]
    counts = np.array([b["count"] for b in bins])
    filled = [i for i, b in enumerate(bins) if b["count"]]

    fig = _figure(6.4, 6.4)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot([0, 1], [0, 1], linestyle="--", color=BASE_COLOR, label="perfect calibration")
    if filled:
        top.bar(
            edges[filled],
            [bins[i]["frac_pos"] for i in filled],
            width=width,
            align="edge",
            color=MAIN_COLOR,
            alpha=0.35,
            edgecolor=MAIN_COLOR,
            label="fraction of positives (per bin)",
        )
        top.plot(
            [bins[i]["mean_prob"] for i in filled],
            [bins[i]["frac_pos"] for i in filled],
            marker="o",
            color=MAIN_COLOR,
            label="(mean probability, fraction of positives)",
        )
        top.plot([], [], " ", label=f"ECE = {_fmt(cal['ece'])}, MCE = {_fmt(cal['mce'])}")
    else:
        _note(top, "no pairs")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("fraction of positives")
    top.set_title(title or f"Reliability diagram (ECE = {_fmt(cal['ece'])}, {n_bins} bins)")
    top.legend(loc="upper left", fontsize=8)
    top.grid(True, alpha=0.3)

    bottom.bar(
        edges[:-1], counts, width=width, align="edge", color=BASE_COLOR, edgecolor="white", label="pairs per bin"
    )
    positive = counts[counts > 0]
    if positive.size and positive.max() / positive.min() > 100:
        bottom.set_yscale("log")
    bottom.set_xlabel("predicted probability")
    bottom.set_ylabel("pairs")
    bottom.legend(loc="upper center", fontsize=8)
    bottom.grid(True, alpha=0.3)
    return _save(fig, path)


# --------------------------------------------------------------------------- curves
def pr_curve(labels, probs, path, title: str | None = None) -> Path:
    """Precision-recall curve with average precision (AP) and the positive-rate baseline."""
    y, p = _inputs(labels, probs)
    fig = _figure()
    ax = fig.subplots()
    n_pos = int(y.sum())
    if y.size and 0 < n_pos < y.size:
        precision, recall, _ = skm.precision_recall_curve(y, p, drop_intermediate=True)
        ap = skm.average_precision_score(y, p)
        ax.plot(recall, precision, color=MAIN_COLOR, drawstyle="steps-post", label=f"model (AP = {ap:.3f})")
        rate = n_pos / y.size
        ax.axhline(rate, linestyle="--", color=BASE_COLOR, label=f"baseline: positive rate = {rate:.3f}")
        default_title = f"Precision-recall curve (AP = {ap:.3f})"
    else:
        _note(ax, "undefined: needs positive and negative pairs")
        default_title = "Precision-recall curve"
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(title or f"{default_title}, n = {y.size:,} pairs")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower left")
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def roc_curve(labels, probs, path, title: str | None = None) -> Path:
    """ROC curve with its AUC and the chance diagonal."""
    y, p = _inputs(labels, probs)
    fig = _figure()
    ax = fig.subplots()
    n_pos = int(y.sum())
    ax.plot([0, 1], [0, 1], linestyle="--", color=BASE_COLOR, label="chance (AUC = 0.5)")
    if y.size and 0 < n_pos < y.size:
        fpr, tpr, _ = skm.roc_curve(y, p)
        auc = skm.auc(fpr, tpr)
        ax.plot(fpr, tpr, color=MAIN_COLOR, label=f"model (AUC = {auc:.3f})")
        default_title = f"ROC curve (AUC = {auc:.3f})"
    else:
        _note(ax, "undefined: needs positive and negative pairs")
        default_title = "ROC curve"
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate (recall)")
    ax.set_title(title or f"{default_title}, n = {y.size:,} pairs")
    ax.legend(loc="lower right")
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def score_histograms(labels, probs, path, title: str | None = None, n_bins: int = 40) -> Path:
    """Histograms of the probabilities of positive and negative pairs on shared bins.

    The y axis is logarithmic when one class outnumbers the other more than 20 to 1.
    """
    y, p = _inputs(labels, probs)
    edges = bin_edges(n_bins)
    fig = _figure(7.0, 4.8)
    ax = fig.subplots()
    pos, neg = p[y == 1], p[y == 0]
    for values, color, name in ((neg, NEG_COLOR, "negative"), (pos, POS_COLOR, "positive")):
        if values.size:
            ax.hist(
                np.clip(values, 0, 1),
                bins=edges,
                color=color,
                alpha=0.45,
                edgecolor=color,
                label=f"{name} pairs (n = {values.size:,}, mean = {values.mean():.3f})",
            )
    if pos.size and neg.size and max(pos.size, neg.size) / min(pos.size, neg.size) > 20:
        ax.set_yscale("log")
    if not p.size:
        _note(ax, "no pairs")
    ax.set_xlim(0, 1)
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("pairs")
    ax.set_title(title or "Score distribution: positive vs negative pairs")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper center")
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


# --------------------------------------------------------------------------- groups
def group_accuracy_bars(
    per_group: dict,
    path,
    metric: str = "acc@1",
    baseline_metric: str = "retrieval_acc@1",
    title: str | None = None,
    *,
    names: dict[str, str] | None = None,
    max_groups: int = 25,
) -> Path:
    """Horizontal bars of ``metric`` (reranked) next to ``baseline_metric`` (retrieval) per group.

    ``per_group`` is the output of :func:`~xenc_toolkit.evaluation.metrics.grouped_linking_metrics`.
    Groups are sorted by ``n_mentions`` (largest at the top); only the ``max_groups`` largest
    are drawn (the title says how many were left out). Tick labels read
    ``"<key> <name> (n=<mentions>)"``, with ``names`` mapping keys to display names
    (e.g. TUI -> semantic type name). The baseline bars are left out when no group has
    ``baseline_metric``.
    """
    names = names or {}
    items = sorted(per_group.items(), key=lambda kv: (-int(kv[1].get("n_mentions", 0)), kv[0]))
    shown = items[:max_groups]
    left_out = len(items) - len(shown)
    has_base = any(v.get(baseline_metric) is not None for _, v in shown)
    fig = _figure(8.0, max(3.0, 0.34 * len(shown) + 1.6))
    ax = fig.subplots()
    if shown:
        positions = np.arange(len(shown))[::-1]
        height = 0.38 if has_base else 0.7
        values = [v.get(metric) or 0.0 for _, v in shown]
        offset = height / 2 if has_base else 0.0
        ax.barh(positions + offset, values, height=height, color=MAIN_COLOR, label=f"reranked {metric}")
        if has_base:
            base = [v.get(baseline_metric) or 0.0 for _, v in shown]
            ax.barh(positions - offset, base, height=height, color=BASE_COLOR, label=baseline_metric.replace("_", " "))
        for pos_, value in zip(positions + offset, values, strict=True):
            ax.text(min(value + 0.01, 0.93), pos_, f"{value:.2f}", va="center", fontsize=7)
        labels = []
        for key, v in shown:
            name = names.get(key)
            text = f"{key} {name}" if name and name != key else key
            if len(text) > 42:
                text = text[:40] + "…"
            labels.append(f"{text} (n={int(v.get('n_mentions', 0)):,})")
        ax.set_yticks(positions, labels, fontsize=8)
        ax.legend(loc="lower right", fontsize=8)
    else:
        _note(ax, "no groups")
        ax.set_yticks([])
    ax.set_xlim(0, 1)
    ax.set_xlabel(metric)
    more = f" ({left_out} smaller groups not shown)" if left_out else ""
    ax.set_title(title or f"{metric} per group: reranked vs retrieval{more}", fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    return _save(fig, path)


# --------------------------------------------------------------------------- selective linking
def risk_coverage_plot(curves: dict, path, title: str | None = None) -> Path:
    """Risk (share of wrong links) against coverage (share of mentions linked), one line per confidence.

    ``curves``: ``{label: (confidence, correct)}``; the first is drawn as the main line. The legend
    gives each curve's AURC (lower is better).
    """
    from .selective import aurc, risk_coverage

    fig = _figure()
    ax = fig.subplots()
    colors = [MAIN_COLOR, BASE_COLOR, "#8c564b", "#2ca02c"]
    n = 0
    for i, (label, (confidence, correct)) in enumerate(curves.items()):
        coverage, risk = risk_coverage(confidence, correct)
        n = max(n, len(coverage))
        if len(coverage):
            ax.plot(
                coverage,
                risk,
                color=colors[i % len(colors)],
                linestyle="-" if i == 0 else "--",
                label=f"{label} (AURC = {aurc(confidence, correct):.3f})",
            )
    if not n:
        _note(ax, "no mentions")
    ax.axhline(0.05, color="#999999", linewidth=0.8, linestyle=":", label="risk 0.05 (precision 0.95)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.0)
    ax.set_xlabel("coverage (share of mentions linked, most confident first)")
    ax.set_ylabel("risk (share of those links that are wrong)")
    ax.set_title(title or f"Risk-coverage, n = {n:,} mentions")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left")
    ax.grid(True, alpha=0.3)
    return _save(fig, path)
