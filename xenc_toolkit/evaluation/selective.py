"""Selective linking: how precise the links a confidence keeps are, at every coverage.

Sort mentions by a confidence, most confident first; keeping the top ``k`` of ``n`` is coverage
``k / n`` and its risk is the share of wrong links among them. The risk–coverage curve and its
area (AURC, the mean risk over all coverages: lower is better, and it rewards both accuracy and
a confidence that ranks the errors last) compare confidences; coverage at a precision target is
what a Stage-3 pipeline that auto-accepts links above a threshold gets.
"""

from __future__ import annotations

import numpy as np


def risk_coverage(confidence, correct) -> tuple[np.ndarray, np.ndarray]:
    """Coverage ``k/n`` and risk (error rate of the ``k`` most confident), for ``k = 1..n``; ties kept together."""
    confidence = np.asarray(confidence, dtype=np.float64).reshape(-1)
    correct = np.asarray(correct, dtype=bool).reshape(-1)
    n = len(confidence)
    if not n:
        return np.zeros(0), np.zeros(0)
    order = np.argsort(-confidence, kind="stable")
    errors = np.cumsum(~correct[order])
    k = np.arange(1, n + 1)
    # a threshold cannot split tied confidences: each k takes the risk of the end of its tie block
    sorted_conf = confidence[order]
    block_end = np.searchsorted(-sorted_conf, -sorted_conf, side="right") - 1
    risk = errors[block_end] / k[block_end]
    return k / n, risk


def aurc(confidence, correct) -> float | None:
    """Area under the risk–coverage curve (mean risk over the coverages 1/n .. 1)."""
    _, risk = risk_coverage(confidence, correct)
    return float(risk.mean()) if len(risk) else None


def coverage_at_precision(confidence, correct, target: float) -> float | None:
    """The largest coverage whose links are at least ``target`` precise (0.0 when none is)."""
    coverage, risk = risk_coverage(confidence, correct)
    if not len(coverage):
        return None
    ok = np.flatnonzero(1.0 - risk >= target - 1e-12)
    return float(coverage[ok].max()) if len(ok) else 0.0


def precision_at_coverage(confidence, correct, coverage: float) -> float | None:
    """Precision of the ``coverage`` share of most confident links."""
    cov, risk = risk_coverage(confidence, correct)
    if not len(cov):
        return None
    index = min(len(cov) - 1, max(0, int(np.ceil(coverage * len(cov))) - 1))
    return float(1.0 - risk[index])


def selective_metrics(confidence, correct) -> dict:
    """The selective-linking figures of one confidence."""
    return {
        "aurc": aurc(confidence, correct),
        "coverage_at_precision_095": coverage_at_precision(confidence, correct, 0.95),
        "coverage_at_precision_099": coverage_at_precision(confidence, correct, 0.99),
        "precision_at_coverage_080": precision_at_coverage(confidence, correct, 0.80),
        "precision_at_coverage_060": precision_at_coverage(confidence, correct, 0.60),
    }


def nil_metrics(probability, nil, threshold: float) -> dict:
    """NIL detection by ``probability < threshold``: AUROC of ``1 - probability`` and F1 at the threshold."""
    from sklearn.metrics import f1_score, roc_auc_score

    probability = np.asarray(probability, dtype=np.float64).reshape(-1)
    nil = np.asarray(nil, dtype=bool).reshape(-1)
    if not len(nil) or nil.all() or not nil.any():
        return {"nil_auroc": None, "nil_f1": None, "nil_mentions": int(nil.sum()), "nil_threshold": threshold}
    flagged = probability < threshold
    return {
        "nil_auroc": float(roc_auc_score(nil, 1.0 - probability)),
        "nil_f1": float(f1_score(nil, flagged)),
        "nil_mentions": int(nil.sum()),
        "nil_flagged": int(flagged.sum()),
        "nil_threshold": threshold,
    }
