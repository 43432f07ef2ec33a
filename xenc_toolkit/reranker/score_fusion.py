"""Score fusion: reranker logit + w x retrieval score, with ``w`` fitted on held-out lists.

A cross-encoder trained briefly on few mentions resolves what retrieval cannot (candidates that
retrieval scores alike: same-name concepts of different types, near-ties) but can be less sure
than retrieval on clear string matches. Ranking by ``logit + w * retrieval_score`` keeps both:
``w = 0`` is the reranker alone, a large ``w`` is retrieval with the reranker breaking its ties.

``w`` is fitted by :func:`fit_fusion_weight` on a held-out split's candidate lists (``xenc
calibrate`` does it, next to the probability calibration), never on evaluation data, and saved
in the model directory (:mod:`.model_dir`) with the candidate generator it was fitted for
(retrieval scores of another generator have another scale, so they are not fused). The model
directory stays a plain CrossEncoder directory: ``CrossEncoder(path).predict`` gives the
reranker's own scores; :class:`~xenc_toolkit.linking.linker.Linker` and ``xenc evaluate``
apply the fusion when the file is there (``xenc evaluate --fusion off`` reports the reranker alone).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .ranking import rerank_ranks

RELATIVE_GRID: tuple[float, ...] = tuple(np.logspace(-3, 3, 31).tolist())


def _median_spread(lists) -> float:
    spreads = []
    for values in lists:
        finite = np.asarray(values, dtype=np.float64)
        finite = finite[np.isfinite(finite)]
        if len(finite) > 1:
            spreads.append(float(finite.max() - finite.min()))
    return float(np.median(spreads)) if spreads else 0.0


def scaled_grid(logit_lists, retrieval_lists, relative: Sequence[float] = RELATIVE_GRID) -> tuple[float, ...]:
    """0 and ``relative`` x (median logit spread / median retrieval-score spread) per list.

    Retrieval scores come on very different scales (cosine similarities span ~0.1 in a list,
    reciprocal-rank-fusion scores ~0.003), so a fixed grid can stop short of the weight where
    retrieval takes over; at relative weight 1 both spread alike, at 1000 retrieval decides and
    the reranker breaks its ties.
    """
    logit_spread, retrieval_spread = _median_spread(logit_lists), _median_spread(retrieval_lists)
    scale = logit_spread / retrieval_spread if logit_spread > 0 and retrieval_spread > 0 else 1.0
    return (0.0, *(float(f"{scale * r:.4g}") for r in relative))


def fuse_scores(logits: np.ndarray, retrieval_scores: Sequence[float], weight: float) -> np.ndarray:
    """``logits + weight * retrieval_scores`` (a missing retrieval score counts as 0)."""
    retrieval = np.nan_to_num(np.asarray(retrieval_scores, dtype=np.float64), nan=0.0)
    return np.asarray(logits, dtype=np.float64) + weight * retrieval


def _top1_hits(logit_lists, retrieval_lists, label_lists, weight: float) -> int:
    fused = [
        fuse_scores(logits, retrieval, weight) for logits, retrieval in zip(logit_lists, retrieval_lists, strict=True)
    ]
    return int((rerank_ranks(fused, label_lists) == 0).sum())


def fit_fusion_weight(
    logit_lists: Sequence[np.ndarray],
    retrieval_lists: Sequence[Sequence[float]],
    label_lists: Sequence[Sequence[int]],
    grid: Sequence[float] | None = None,
) -> dict:
    """The weight of the grid with the best acc@1 on these lists (the smallest one on a tie).

    The default grid is :func:`scaled_grid` of these lists. Only lists that contain a gold
    candidate can change acc@1; all are scored alike.
    """
    if not len(logit_lists):
        raise ValueError("no candidate lists to fit the fusion weight on")
    if grid is None:
        grid = scaled_grid(logit_lists, retrieval_lists)
    n_with_gold = sum(1 for labels in label_lists if 1 in list(labels))
    table = [(float(w), _top1_hits(logit_lists, retrieval_lists, label_lists, w)) for w in grid]
    best_w, best_hits = max(table, key=lambda item: (item[1], -item[0]))
    n = len(logit_lists)
    return {
        "weight": best_w,
        "acc@1": best_hits / n,
        "reranker_only_acc@1": dict(table).get(0.0, table[0][1]) / n,
        "n_lists": n,
        "n_lists_with_gold": n_with_gold,
        "acc@1_by_weight": {f"{w:g}": hits / n for w, hits in table},
    }
