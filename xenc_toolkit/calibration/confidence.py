"""P(top-1 correct): one calibrated probability per linked mention, its tiers and the NIL decision.

A pair probability (a calibrated ``sigmoid(logit)``) says how well one candidate matches; Stage-3
code needs something else: *is the concept the linker chose the right one?* That depends on the
whole candidate list — how far the chosen candidate is ahead of the others for the reranker and for
retrieval. :class:`LinkConfidence` maps per-list features (:func:`list_features`) to that
probability with a model fitted on held-out candidate lists (``xenc calibrate``):

* ``logistic``: scikit-learn ``LogisticRegression`` on the standardised features;
* ``logistic-isotonic``: the logistic score re-mapped by an ``IsotonicRegression`` to the observed rate;
* ``isotonic``: ``IsotonicRegression`` of correctness on the reranker's softmax share of the chosen
  candidate.

The method is chosen by 5-fold cross-validated log loss on the calibration lists, so the choice is
out of sample. The same folds give out-of-fold probabilities, and on those (never on in-sample
fits) the tier thresholds are set: ``high`` is the lowest probability at which the precision of
the links at or above it is at least ``precision_target`` (0.95), per semantic group of the chosen
concept where a group has ``min_examples`` lists, else globally. ``nil_threshold`` maximises the
F1 of "P(correct) below it" as a NIL (not in the KB) detector. NIL examples are the lists whose
gold concept is not in the KB and, in addition, a ``nil_share`` of the lists with their gold
candidates removed (a KB that covers every evaluation concept, NCBI-disease + MEDIC, has none of
its own), so the model also learns what a list without its concept looks like.

Tiers: ``high`` (p >= the high threshold), ``low`` (p < the NIL threshold: the Linker returns no
concept), ``review`` (in between).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..evaluation.metrics import calibration_errors

FEATURES = (
    "softmax_top",
    "logit_top",
    "logit_margin",
    "retrieval_top",
    "retrieval_margin",
    "retrieval_rank_top",
    "list_size",
)
METHODS = ("logistic", "logistic-isotonic", "isotonic")
FORMAT_VERSION = "xenc-confidence/1"


def _fused(logits: np.ndarray, retrieval: np.ndarray, weight: float | None) -> np.ndarray:
    if weight is None:
        return logits
    return logits + weight * np.nan_to_num(retrieval, nan=0.0)


def list_features(logits, retrieval_scores, weight: float | None = None) -> tuple[np.ndarray, int]:
    """Features of one candidate list (in retrieval order) and the index of the candidate the linker picks.

    The pick is the top of ``logit + weight x retrieval score`` (the logit alone without a weight).
    """
    logits = np.asarray(logits, dtype=np.float64)
    retrieval = np.asarray(retrieval_scores, dtype=np.float64)
    n = len(logits)
    if n == 0:
        return np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]), -1
    ranking = _fused(logits, retrieval, weight)
    top = int(np.argmax(ranking))
    shifted = np.exp(logits - logits.max())
    softmax_top = float(shifted[top] / shifted.sum())
    others = np.delete(np.arange(n), top)
    filled = np.where(np.isnan(retrieval), np.nanmin(retrieval) if np.isfinite(retrieval).any() else 0.0, retrieval)
    logit_margin = float(logits[top] - logits[others].max()) if len(others) else 10.0
    retrieval_margin = float(filled[top] - filled[others].max()) if len(others) else 1.0
    return (
        np.array(
            [softmax_top, logits[top], logit_margin, filled[top], retrieval_margin, top / max(1, n), float(n)],
            dtype=np.float64,
        ),
        top,
    )


def features_of_lists(logit_lists, retrieval_lists, weight: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`list_features` of many lists: an ``(n, len(FEATURES))`` matrix and each list's pick."""
    rows, picks = [], []
    for logits, retrieval in zip(logit_lists, retrieval_lists, strict=True):
        x, top = list_features(logits, retrieval, weight)
        rows.append(x)
        picks.append(top)
    matrix = np.vstack(rows) if rows else np.zeros((0, len(FEATURES)))
    return matrix, np.asarray(picks, dtype=np.int64)


# --------------------------------------------------------------------------- the two models
@dataclass
class _Model:
    method: str
    params: dict[str, Any]

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if not len(x):
            return np.zeros(0)
        if self.method in ("logistic", "logistic-isotonic"):
            z = (x - np.asarray(self.params["mean"])) / np.asarray(self.params["scale"])
            logit = z @ np.asarray(self.params["coef"]) + self.params["intercept"]
            p = 1.0 / (1.0 + np.exp(-np.clip(logit, -40, 40)))
            return np.interp(p, self.params["x"], self.params["y"]) if self.method == "logistic-isotonic" else p
        return np.interp(x[:, 0], self.params["x"], self.params["y"])


def _fit(method: str, x: np.ndarray, y: np.ndarray) -> _Model:
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    if method == "logistic":
        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        if len(np.unique(y)) < 2:
            return _Model(
                "logistic",
                {
                    "mean": mean.tolist(),
                    "scale": scale.tolist(),
                    "coef": [0.0] * x.shape[1],
                    "intercept": float(np.log((y.mean() + 1e-6) / (1 - y.mean() + 1e-6))),
                },
            )
        model = LogisticRegression(C=1.0, max_iter=1000).fit((x - mean) / scale, y)
        return _Model(
            "logistic",
            {
                "mean": mean.tolist(),
                "scale": scale.tolist(),
                "coef": model.coef_[0].tolist(),
                "intercept": float(model.intercept_[0]),
            },
        )
    if method == "logistic-isotonic":  # the logistic score, re-mapped monotonically to the observed rate
        logistic = _fit("logistic", x, y)
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(logistic.predict(x), y)
        return _Model(method, {**logistic.params, "x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()})
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x[:, 0], y)
    return _Model("isotonic", {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()})


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _out_of_fold(
    method: str, x: np.ndarray, y: np.ndarray, folds: int, seed: int, extra: np.ndarray, extra_source: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold predictions for ``x``, and for ``extra`` rows (derived from the ``extra_source`` rows of
    ``x``) by the model of the fold that held their source out."""
    from sklearn.model_selection import KFold

    out, out_extra = np.zeros(len(y)), np.zeros(len(extra))
    for train, test in KFold(n_splits=folds, shuffle=True, random_state=seed).split(x):
        model = _fit(method, x[train], y[train])
        out[test] = model.predict(x[test])
        held = np.isin(extra_source, test)
        if held.any():
            out_extra[held] = model.predict(extra[held])
    return out, out_extra


# --------------------------------------------------------------------------- thresholds
def high_threshold(p: np.ndarray, correct: np.ndarray, target: float) -> float | None:
    """The lowest ``t`` such that the links with probability >= ``t`` are at least ``target`` precise (None: never)."""
    order = np.argsort(-p, kind="stable")
    hits = np.cumsum(correct[order])
    precision = hits / np.arange(1, len(order) + 1)
    ok = np.flatnonzero(precision >= target)
    if not len(ok):
        return None
    last = ok.max()
    return float(p[order][last])


def nil_threshold(p: np.ndarray, nil: np.ndarray) -> tuple[float, float]:
    """The ``t`` maximising the F1 of ``p < t`` as a detector of ``nil``, and that F1 (0, 0.0 without NIL)."""
    if not nil.any():
        return 0.0, 0.0
    best_t, best_f1 = 0.0, 0.0
    for t in np.unique(np.concatenate([p, [1.0 + 1e-9]])):
        flagged = p < t
        tp = float((flagged & nil).sum())
        if not tp:
            continue
        f1 = 2 * tp / (flagged.sum() + nil.sum())
        if f1 > best_f1:
            best_t, best_f1 = float(t), f1
    return best_t, best_f1


# --------------------------------------------------------------------------- the fitted object
@dataclass
class LinkConfidence:
    """P(top-1 correct) for candidate lists, the tier thresholds and the NIL threshold (see module docs)."""

    model: _Model
    high: float | None
    high_by_group: dict[str, float] = field(default_factory=dict)
    nil: float = 0.0
    weight: float | None = None  # the fusion weight the features were computed with
    report: dict[str, Any] = field(default_factory=dict)
    temperature: float = 1.0  # of the softmax over a list's ranking scores (candidate probabilities)

    def candidate_probabilities(self, logits, retrieval_scores) -> np.ndarray:
        """Each candidate's probability of being the gold: a softmax over the list's ranking scores
        (``logit + weight x retrieval``) at the temperature fitted on the calibration lists; in ranking order."""
        return candidate_softmax(
            _fused(np.asarray(logits, float), np.asarray(retrieval_scores, float), self.weight), self.temperature
        )

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        return self.model.predict(features)

    def probability(self, logits, retrieval_scores) -> float:
        x, _ = list_features(logits, retrieval_scores, self.weight)
        return float(self.model.predict(x[None, :])[0])

    def high_threshold_for(self, group: str | None) -> float | None:
        return self.high_by_group.get(group, self.high) if group else self.high

    def tier(self, probability: float, group: str | None = None) -> str:
        if probability < self.nil:
            return "low"
        high = self.high_threshold_for(group)
        return "high" if high is not None and probability >= high else "review"

    def is_nil(self, probability: float) -> bool:
        return probability < self.nil

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "features": list(FEATURES),
            "method": self.model.method,
            "params": self.model.params,
            "high": self.high,
            "high_by_group": self.high_by_group,
            "nil": self.nil,
            "fusion_weight": self.weight,
            "temperature": self.temperature,
            "report": self.report,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinkConfidence:
        if data.get("format") != FORMAT_VERSION or list(data.get("features", [])) != list(FEATURES):
            raise ValueError(f"unsupported link-confidence file (format {data.get('format')!r})")
        return cls(
            _Model(data["method"], data["params"]),
            data.get("high"),
            dict(data.get("high_by_group") or {}),
            float(data.get("nil") or 0.0),
            data.get("fusion_weight"),
            dict(data.get("report") or {}),
            float(data.get("temperature") or 1.0),
        )


def fit_link_confidence(
    logit_lists: Sequence[np.ndarray],
    retrieval_lists: Sequence[Sequence[float]],
    label_lists: Sequence[Sequence[int]],
    gold_in_kb: Sequence[bool],
    groups: Sequence[str | None] | None = None,
    *,
    weight: float | None = None,
    precision_target: float = 0.95,
    min_examples: int = 50,
    nil_share: float = 0.1,
    folds: int = 5,
    seed: int = 42,
) -> LinkConfidence:
    """Fit :class:`LinkConfidence` on held-out candidate lists (their reranker logits, retrieval scores,
    0/1 gold labels and whether each mention's gold is in the KB); ``groups``: the semantic group of each
    list's pick, for per-group high thresholds.

    The probability model learns from the real lists only (simulated NIL lists would shift its base
    rate away from the data it is applied to); the NIL threshold is chosen on the real lists' and the
    simulated NIL lists' out-of-fold probabilities together.
    """
    rng = np.random.default_rng(seed)
    logit_lists = [np.asarray(x, dtype=np.float64) for x in logit_lists]
    retrieval_lists = [np.asarray(r, dtype=np.float64) for r in retrieval_lists]
    label_lists = [np.asarray(y, dtype=np.int64) for y in label_lists]
    nil = ~np.asarray(gold_in_kb, dtype=bool)
    groups = list(groups) if groups is not None else [None] * len(logit_lists)
    x, picks = features_of_lists(logit_lists, retrieval_lists, weight)
    correct = np.asarray(
        [bool(top >= 0 and labels[top]) for top, labels in zip(picks.tolist(), label_lists, strict=True)], dtype=float
    )
    # simulated NIL: a share of the lists that hold their gold, with every gold candidate removed
    holders = [i for i, y in enumerate(label_lists) if y.any() and (y == 0).any()]
    chosen = (
        sorted(int(c) for c in rng.choice(holders, size=int(round(nil_share * len(holders))), replace=False))
        if holders
        else []
    )
    sim_x, _ = features_of_lists(
        [logit_lists[i][label_lists[i] == 0] for i in chosen],
        [retrieval_lists[i][label_lists[i] == 0] for i in chosen],
        weight,
    )
    sim_source = np.asarray(chosen, dtype=np.int64)
    n_folds = max(2, min(folds, len(correct) // 10)) if len(correct) >= 20 else 0
    losses, oof, oof_sim = {}, {}, {}
    for method in METHODS:
        if n_folds:
            oof[method], oof_sim[method] = _out_of_fold(method, x, correct, n_folds, seed, sim_x, sim_source)
            losses[method] = _log_loss(correct, oof[method])
    method = min(losses, key=losses.get) if losses else "logistic"
    model = _fit(method, x, correct)
    held = oof.get(method, model.predict(x))
    held_sim = oof_sim.get(method, model.predict(sim_x))
    high = high_threshold(held, correct.astype(bool), precision_target)
    by_group: dict[str, float] = {}
    group_of = np.asarray([g or "" for g in groups], dtype=object)
    for group in sorted(set(group_of.tolist()) - {""}):
        mask = group_of == group
        if mask.sum() >= min_examples:
            t = high_threshold(held[mask], correct[mask].astype(bool), precision_target)
            if t is not None:
                by_group[group] = t
    nil_t, nil_f1 = nil_threshold(np.concatenate([held, held_sim]), np.concatenate([nil, np.ones(len(held_sim), bool)]))
    temperature = fit_temperature(
        [_fused(s, r, weight) for s, r in zip(logit_lists, retrieval_lists, strict=True)], label_lists
    )
    report = {
        "lists": int(len(logit_lists)),
        "nil_lists": int(nil.sum()),
        "simulated_nil_lists": len(chosen),
        "accuracy": float(correct.mean()) if len(correct) else None,
        "log_loss_by_method": {k: round(v, 5) for k, v in losses.items()},
        "chosen_by": f"{n_folds}-fold cross-validated log loss" if n_folds else "too few lists to compare (default)",
        "out_of_fold_ece": round(float(calibration_errors(correct.astype(int), held)["ece"]), 5) if len(held) else None,
        "out_of_fold_nil_f1": round(nil_f1, 4),
        "precision_target": precision_target,
        "candidate_temperature": temperature,
    }
    return LinkConfidence(model, high, by_group, nil_t, weight, report, temperature)


def candidate_softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-np.inf)
    if not len(scores):
        return scores
    z = (scores - scores.max()) / temperature
    e = np.exp(z)
    return e / e.sum()


def fit_temperature(score_lists, label_lists) -> float:
    """The softmax temperature that minimises the gold's negative log-likelihood over lists holding a gold."""
    lists = [(np.asarray(s, float), np.asarray(y) > 0) for s, y in zip(score_lists, label_lists, strict=True)]
    lists = [(s, y) for s, y in lists if y.any() and len(s) > 1]
    if not lists:
        return 1.0
    spread = np.median([np.nanmax(s) - np.nanmin(s) for s, _ in lists]) or 1.0
    best, best_nll = 1.0, np.inf
    for temperature in spread * np.logspace(-3, 2, 51):
        nll = -sum(np.log(max(candidate_softmax(s, temperature)[y].sum(), 1e-12)) for s, y in lists)
        if nll < best_nll:
            best, best_nll = float(temperature), nll
    return best


def load_link_confidence(model_dir) -> LinkConfidence | None:
    """The :class:`LinkConfidence` saved in a model directory by ``xenc calibrate``, or None."""
    from ..reranker.model_dir import load_confidence_data

    data = load_confidence_data(model_dir)
    return LinkConfidence.from_dict(data) if data is not None else None
