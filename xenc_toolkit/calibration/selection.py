"""Choosing a calibration method by cross-validation over mentions.

Each candidate method is fitted on the training folds and scored on the held-out
fold; folds are split by mention (sklearn ``GroupKFold``) so all candidate pairs
of a mention stay on the same side. The method with the best mean held-out score
wins and is refitted on all the data. Scoring on the data a method was fitted on
would always favour the most flexible one (isotonic), which is why it is never done.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from sklearn.metrics import log_loss
from sklearn.model_selection import GroupKFold

from .registry import CALIBRATORS
from .temperature import check_fit_inputs

__all__ = [
    "Calibrator",
    "CALIBRATORS",
    "make_calibrator",
    "calibrator_from_dict",
    "score_probabilities",
    "select_calibrator",
]

SELECTION_METRICS = ("brier", "ece", "log_loss")


@runtime_checkable
class Calibrator(Protocol):
    """What every calibrator provides."""

    name: str

    def fit(self, logits, labels) -> Calibrator: ...

    def predict_proba(self, logits) -> np.ndarray: ...

    def to_dict(self) -> dict: ...


def make_calibrator(method: str) -> Calibrator:
    """A new, unfitted calibrator by name ('temperature', 'platt', 'isotonic')."""
    try:
        return CALIBRATORS[method]()
    except KeyError:
        raise ValueError(f"unknown calibration method {method!r} (expected one of {sorted(CALIBRATORS)})") from None


def calibrator_from_dict(data: dict) -> Calibrator:
    """Rebuild a calibrator from its ``to_dict()`` form."""
    method = data.get("method")
    if method not in CALIBRATORS:
        raise ValueError(f"unknown calibration method {method!r} (expected one of {sorted(CALIBRATORS)})")
    return CALIBRATORS[method].from_dict(data)


def score_probabilities(labels, probs, n_bins: int = 15) -> dict:
    """``{"brier", "ece", "log_loss"}`` of probabilities against 0/1 labels."""
    # imported here: xenc_toolkit.evaluation may import this package (no import cycle at load time)
    from ..evaluation.metrics import calibration_errors

    y = np.asarray(labels).astype(np.int64).reshape(-1)
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    return {
        "brier": float(np.mean((p - y) ** 2)),
        "ece": float(calibration_errors(y, p, n_bins=n_bins)["ece"]),
        "log_loss": float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1])),
    }


def select_calibrator(
    logits,
    labels,
    groups,
    methods: Sequence[str] = ("temperature", "platt", "isotonic"),
    folds: int = 5,
    metric: str = "brier",
    seed: int = 42,
    *,
    n_bins: int = 15,
) -> tuple[Calibrator, dict]:
    """Pick a calibration method on held-out folds and refit it on all data.

    ``groups`` (one id per pair, e.g. the mention id) decides the folds: sklearn
    ``GroupKFold(folds, shuffle=True, random_state=seed)``; when there are fewer groups than
    ``folds``, there are as many folds as groups. A fold whose training part holds only one
    class is skipped (for every method alike). Each method's probabilities on the held-out
    fold are scored by Brier score, ECE (``n_bins`` equal-width bins) and log-loss
    (probabilities clipped to ``[1e-15, 1 - 1e-15]``).

    Returns ``(calibrator, report)``: the method with the lowest mean held-out ``metric``
    (ties go to the earlier method in ``methods``) fitted on all pairs, and
    ``{method: {"brier", "ece", "log_loss", "n_folds"}}`` with means over the folds used.
    """
    if metric not in SELECTION_METRICS:
        raise ValueError(f"unknown selection metric {metric!r} (expected one of {SELECTION_METRICS})")
    methods = list(dict.fromkeys(methods))
    if not methods:
        raise ValueError("no calibration methods to choose from")
    for method in methods:
        make_calibrator(method)  # validates the name
    x, y = check_fit_inputs(logits, labels)
    g = np.asarray(groups).reshape(-1)
    if g.size != x.size:
        raise ValueError(f"groups has {g.size} values for {x.size} pairs")
    n_groups = np.unique(g).size
    if n_groups < 2:
        raise ValueError("cross-validation needs pairs of at least two mentions (groups)")
    n_splits = min(int(folds), n_groups)
    try:
        splitter = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    except TypeError:  # scikit-learn < 1.6: no shuffle; relabel the groups at random instead
        _, inverse = np.unique(g, return_inverse=True)
        g = np.random.default_rng(seed).permutation(n_groups)[inverse]
        splitter = GroupKFold(n_splits=n_splits)

    scores: dict[str, list[dict]] = {method: [] for method in methods}
    for train_idx, test_idx in splitter.split(x, y, groups=g):
        if y[train_idx].min() == y[train_idx].max():
            continue
        for method in methods:
            calibrator = make_calibrator(method).fit(x[train_idx], y[train_idx])
            scores[method].append(score_probabilities(y[test_idx], calibrator.predict_proba(x[test_idx]), n_bins))
    if not scores[methods[0]]:
        raise ValueError("no cross-validation fold had both classes in its training part")

    report: dict[str, dict] = {}
    for method in methods:
        report[method] = {key: float(np.mean([s[key] for s in scores[method]])) for key in SELECTION_METRICS}
        report[method]["n_folds"] = len(scores[method])
    best = min(methods, key=lambda m: (report[m][metric], methods.index(m)))
    return make_calibrator(best).fit(x, y), report
