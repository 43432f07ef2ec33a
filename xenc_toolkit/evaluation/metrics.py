"""Evaluation maths: pair classification, calibration error, entity linking and Stage-3 figures.

Every function takes numpy arrays (or sequences) and returns a plain ``dict`` of
Python ``float``/``int``/``None`` values that can be written as JSON as is.

Conventions
-----------
* ``labels`` are 0/1 (1 = the candidate is the gold concept), ``probs`` are
  probabilities in ``[0, 1]`` (already passed through a sigmoid or a calibrator).
* A pair is predicted positive when ``prob >= threshold``.
* ``ranks`` are 0-based positions of the gold concept in a mention's ranked
  candidate list; ``-1`` means the gold concept is not in the list (a miss at
  every cut-off). Such mentions always stay in the denominator.
* A metric that is undefined for the input (empty input, one class only) is
  ``None``, never ``nan``, and never raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from sklearn import metrics as skm

__all__ = [
    "pair_metrics",
    "calibration_errors",
    "linking_metrics",
    "stage3_metrics",
    "grouped_linking_metrics",
    "bin_edges",
]


# --------------------------------------------------------------------------- helpers
def _as_labels(labels) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    if arr.size and not np.isin(arr, (0, 1, True, False)).all():
        bad = arr[~np.isin(arr, (0, 1, True, False))][:3]
        raise ValueError(f"labels must be 0/1, found {bad.tolist()}")
    return arr.astype(np.int64)


def _as_probs(probs, n: int) -> np.ndarray:
    arr = np.asarray(probs, dtype=np.float64).reshape(-1)
    if arr.size != n:
        raise ValueError(f"labels and probs differ in length ({n} vs {arr.size})")
    if arr.size and (not np.isfinite(arr).all() or arr.min() < 0.0 or arr.max() > 1.0):
        raise ValueError("probs must be finite probabilities in [0, 1] (apply a sigmoid or calibrator to raw logits)")
    return arr


def _float(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if not np.isfinite(value) else value


def bin_edges(n_bins: int) -> np.ndarray:
    """Equal-width bin edges on ``[0, 1]``: ``k / n_bins`` for ``k = 0..n_bins`` (exact fractions)."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    return np.arange(n_bins + 1, dtype=np.float64) / n_bins


def _bin_index(probs: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin ``i`` holds ``edges[i] <= p < edges[i+1]``; the last bin also holds ``p == 1``."""
    edges = bin_edges(n_bins)
    return np.searchsorted(edges[1:-1], probs, side="right")


# --------------------------------------------------------------------------- pair metrics
def pair_metrics(labels, probs, threshold: float = 0.5) -> dict:
    """Binary classification metrics of (mention, candidate) pairs at one decision threshold.

    Keys: ``accuracy``, ``precision``, ``recall``, ``f1``, ``specificity`` (TN / (TN + FP)),
    ``roc_auc``, ``pr_auc`` (average precision, sklearn's step-wise area under the PR curve),
    ``brier_score`` (mean squared error of the probabilities), ``threshold``, ``n_pairs``,
    ``n_positive``, ``confusion_matrix`` ``{"tn", "fp", "fn", "tp"}`` and ``notes`` (strings explaining
    every undefined or zero-by-convention value).

    Degenerate inputs never raise:

    * empty input: every rate is ``None``, counts are 0;
    * one class only: ``roc_auc`` and ``pr_auc`` are ``None`` because both rank positives
      against negatives and need at least one of each (ROC AUC is undefined without
      negatives or positives; average precision is undefined without positives and
      trivially 1 without negatives);
    * a 0/0 rate on non-empty input (precision with no predicted positives, recall or F1
      with no positives, specificity with no negatives) is 0, sklearn's ``zero_division=0``
      convention, and ``notes`` says so. F1 = 2TP / (2TP + FP + FN).
    """
    y = _as_labels(labels)
    p = _as_probs(probs, y.size)
    threshold = float(threshold)
    notes: list[str] = []
    n = int(y.size)
    n_pos = int(y.sum())
    n_neg = n - n_pos

    if n:
        pred = (p >= threshold).astype(np.int64)
        tn, fp, fn, tp = (int(v) for v in skm.confusion_matrix(y, pred, labels=[0, 1]).ravel())
    else:
        tn = fp = fn = tp = 0

    def ratio(num: int, den: int) -> float | None:
        # sklearn's zero_division=0 convention for a 0/0 rate on non-empty input
        if not n:
            return None
        return float(num / den) if den else 0.0

    accuracy = ratio(tp + tn, n)
    precision = ratio(tp, tp + fp)
    recall = ratio(tp, tp + fn)
    specificity = ratio(tn, tn + fp)
    f1 = ratio(2 * tp, 2 * tp + fp + fn)
    if n and tp + fp == 0:
        notes.append("precision set to 0: no pair predicted positive at this threshold")
    if n and n_pos == 0:
        notes.append("recall and f1 set to 0: no positive pairs")
    if n and n_neg == 0:
        notes.append("specificity set to 0: no negative pairs")

    roc_auc = pr_auc = None
    if n == 0:
        notes.append("no pairs: all metrics undefined")
    elif n_pos == 0 or n_neg == 0:
        which = "positive" if n_pos == 0 else "negative"
        notes.append(f"roc_auc and pr_auc undefined: no {which} pairs (only one class present)")
    else:
        roc_auc = _float(skm.roc_auc_score(y, p))
        pr_auc = _float(skm.average_precision_score(y, p))

    brier = _float(np.mean((p - y) ** 2)) if n else None

    return {
        "accuracy": accuracy,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "specificity": specificity,
        "roc_auc": roc_auc,
        "pr_auc": pr_auc,
        "brier_score": brier,
        "threshold": threshold,
        "n_pairs": n,
        "n_positive": n_pos,
        "confusion_matrix": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
        "notes": notes,
    }


# --------------------------------------------------------------------------- calibration error
def calibration_errors(labels, probs, n_bins: int = 15) -> dict:
    """Expected and maximum calibration error over equal-width probability bins.

    The interval ``[0, 1]`` is cut into ``n_bins`` bins ``[k/n_bins, (k+1)/n_bins)`` (the last
    bin also holds ``p == 1``). For each non-empty bin ``b`` with ``n_b`` pairs::

        gap_b = | mean predicted probability in b  -  fraction of positive labels in b |

        ECE = sum_b (n_b / N) * gap_b        MCE = max_b gap_b   (non-empty bins only)

    This compares probabilities with observed frequencies (reliability), not thresholded
    accuracy with confidence. Keys: ``ece``, ``mce``, ``n_bins``, ``n_pairs`` and ``bins``:
    one ``{"lower", "upper", "count", "mean_prob", "frac_pos"}`` per bin; empty bins have
    ``count`` 0 and ``None`` means. With no pairs ``ece``/``mce`` are ``None``.
    """
    y = _as_labels(labels)
    p = _as_probs(probs, y.size)
    n_bins = int(n_bins)
    edges = bin_edges(n_bins)
    n = int(y.size)
    idx = _bin_index(p, n_bins)
    counts = np.bincount(idx, minlength=n_bins)
    sum_p = np.bincount(idx, weights=p, minlength=n_bins)
    sum_y = np.bincount(idx, weights=y.astype(np.float64), minlength=n_bins)

    bins = []
    ece = 0.0
    mce = 0.0
    for b in range(n_bins):
        count = int(counts[b])
        if count:
            mean_prob = float(sum_p[b] / count)
            frac_pos = float(sum_y[b] / count)
            gap = abs(mean_prob - frac_pos)
            ece += count / n * gap
            mce = max(mce, gap)
        else:
            mean_prob = frac_pos = None
        bins.append(
            {
                "lower": float(edges[b]),
                "upper": float(edges[b + 1]),
                "count": count,
                "mean_prob": mean_prob,
                "frac_pos": frac_pos,
            }
        )
    return {
        "ece": float(ece) if n else None,
        "mce": float(mce) if n else None,
        "n_bins": n_bins,
        "n_pairs": n,
        "bins": bins,
    }


# --------------------------------------------------------------------------- linking
def _as_ranks(ranks) -> np.ndarray:
    arr = np.asarray(ranks).reshape(-1)
    if arr.size and not np.issubdtype(arr.dtype, np.integer) and not np.all(np.equal(np.mod(arr, 1), 0)):
        raise ValueError("ranks must be integers (0-based rank, -1 = gold not in the candidates)")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < -1:
        raise ValueError(f"ranks must be >= -1, found {int(arr.min())}")
    return arr


def linking_metrics(ranks, n_candidates: int, ks: Sequence[int] = (1, 5, 10), gold_in_kb=None) -> dict:
    """Entity-linking accuracy from the rank of each mention's gold concept.

    ``ranks[i]`` is the 0-based rank of mention ``i``'s gold concept in its ranked candidate
    list (``-1``: not in the list). Every mention is in every denominator, including those
    whose gold concept is not in the candidates or not in the KB at all.

    * ``acc@1`` = share of mentions with the gold ranked first;
    * ``recall@k`` = share with the gold in the top ``k``, for each ``k`` in ``ks`` with
      ``k <= n_candidates``, plus ``recall@{n_candidates}`` (the candidate-list ceiling);
    * ``mrr`` = mean of ``1 / (rank + 1)``, counting 0 for a gold outside the list;
    * counts: ``n_mentions``, ``n_gold_in_candidates``, ``n_gold_in_kb_not_in_candidates``
      (retrieval misses that a better retriever could fix) and, when ``gold_in_kb`` (bool
      per mention) is given, ``n_gold_not_in_kb`` (misses no model can fix). Without
      ``gold_in_kb`` every gold concept is assumed to be in the KB.

    Raises ``ValueError`` for ranks ``>= n_candidates`` or a gold concept marked as absent
    from the KB that nevertheless has a rank.
    """
    r = _as_ranks(ranks)
    n_candidates = int(n_candidates)
    if n_candidates < 1:
        raise ValueError(f"n_candidates must be >= 1, got {n_candidates}")
    if r.size and r.max() >= n_candidates:
        raise ValueError(f"rank {int(r.max())} is outside a list of {n_candidates} candidates")
    n = int(r.size)
    found = r >= 0

    def share(mask: np.ndarray) -> float | None:
        return float(mask.mean()) if n else None

    out: dict = {"acc@1": share(r == 0)}
    cutoffs = [int(k) for k in ks if 1 <= int(k) <= n_candidates]
    if n_candidates not in cutoffs:
        cutoffs.append(n_candidates)
    for k in sorted(set(cutoffs)):
        out[f"recall@{k}"] = share(found & (r < k))
    reciprocal = np.zeros(n, dtype=np.float64)
    reciprocal[found] = 1.0 / (r[found] + 1.0)
    out["mrr"] = float(reciprocal.mean()) if n else None
    out["n_mentions"] = n
    out["n_gold_in_candidates"] = int(found.sum())
    if gold_in_kb is not None:
        in_kb = np.asarray(gold_in_kb, dtype=bool).reshape(-1)
        if in_kb.size != n:
            raise ValueError(f"gold_in_kb has {in_kb.size} values for {n} mentions")
        if np.any(~in_kb & found):
            raise ValueError("a mention whose gold concept is not in the KB has a candidate rank >= 0")
        out["n_gold_not_in_kb"] = int((~in_kb).sum())
        out["n_gold_in_kb_not_in_candidates"] = int((in_kb & ~found).sum())
    else:
        out["n_gold_in_kb_not_in_candidates"] = int((~found).sum())
    return out


def stage3_metrics(top_probs, second_probs, high_confidence: float = 0.9) -> dict:
    """Stage-3 (linking decision) figures from each mention's calibrated candidate probabilities.

    For each mention, ``top`` is the (calibrated) probability of its top-ranked candidate and
    ``second`` that of the runner-up (pass 0 when a mention has a single candidate).

    * ``high_confidence_pct`` = 100 x share of mentions whose top probability is
      ``>= high_confidence`` (the share the linker would accept without review);
    * ``mean_top_score`` = mean top probability over mentions;
    * ``mean_margin`` = mean of ``top - second`` over mentions (how decisively the top
      candidate wins);
    * ``threshold`` = ``high_confidence``; ``n_mentions``.

    Empty input gives ``None`` figures.
    """
    top = np.asarray(top_probs, dtype=np.float64).reshape(-1)
    second = np.asarray(second_probs, dtype=np.float64).reshape(-1)
    if top.size != second.size:
        raise ValueError(f"top_probs and second_probs differ in length ({top.size} vs {second.size})")
    n = int(top.size)
    high_confidence = float(high_confidence)
    return {
        "high_confidence_pct": float(100.0 * np.mean(top >= high_confidence)) if n else None,
        "mean_top_score": float(top.mean()) if n else None,
        "mean_margin": float(np.mean(top - second)) if n else None,
        "threshold": high_confidence,
        "n_mentions": n,
    }


def grouped_linking_metrics(
    ranks_reranked,
    ranks_retrieval,
    groups: Sequence[Iterable[str]],
    n_candidates: int,
    ks: Sequence[int] = (1, 5, 10),
    min_count: int = 1,
    *,
    missing_key: str = "(none)",
) -> dict:
    """Linking metrics per group (semantic type TUI or semantic group) of mentions.

    ``groups[i]`` is the tuple of group keys of mention ``i``; a mention with several keys is
    counted in each of them (so group sizes can add up to more than the mentions), and a
    mention with no key is counted under ``missing_key`` rather than dropped. For each key
    with at least ``min_count`` mentions the result holds the reranked ``acc@1``,
    ``recall@k``, ``mrr``, ``n_mentions``, ``n_gold_in_candidates`` and, when
    ``ranks_retrieval`` is given (it may be ``None``), the same rates of the retrieval order
    prefixed ``retrieval_``. Keys are ordered by decreasing ``n_mentions``, then name.
    """
    reranked = _as_ranks(ranks_reranked)
    retrieval = None if ranks_retrieval is None else _as_ranks(ranks_retrieval)
    if len(groups) != reranked.size:
        raise ValueError(f"groups has {len(groups)} entries for {reranked.size} mentions")
    if retrieval is not None and retrieval.size != reranked.size:
        raise ValueError("ranks_reranked and ranks_retrieval differ in length")
    members: dict[str, list[int]] = {}
    for i, keys in enumerate(groups):
        if isinstance(keys, str):
            keys = (keys,)
        unique = list(dict.fromkeys(str(k) for k in keys if k)) or [missing_key]
        for key in unique:
            members.setdefault(key, []).append(i)

    out: dict[str, dict] = {}
    for key in sorted(members, key=lambda k: (-len(members[k]), k)):
        idx = np.asarray(members[key], dtype=np.int64)
        if idx.size < min_count:
            continue
        m = linking_metrics(reranked[idx], n_candidates, ks)
        entry = {k: v for k, v in m.items() if k.startswith(("acc@", "recall@")) or k == "mrr"}
        entry["n_mentions"] = m["n_mentions"]
        entry["n_gold_in_candidates"] = m["n_gold_in_candidates"]
        if retrieval is not None:
            base = linking_metrics(retrieval[idx], n_candidates, ks)
            for k, v in base.items():
                if k.startswith(("acc@", "recall@")) or k == "mrr":
                    entry[f"retrieval_{k}"] = v
        out[key] = entry
    return out
