"""Reranking candidate lists by model scores and locating the gold concept.

Rank by raw logits (or fused ``logit + w x retrieval`` scores), not by calibrated probabilities:
calibration is monotone, so it never reorders candidates, but isotonic calibration maps whole
ranges of logits to one probability, and the stable sort would then order those ties by retrieval
rank. Equal scores keep the retrieval order (never the gold first).

Composite gold ids (``D01|D02`` or ``D01+D02`` in NCBI-disease / BC5CDR) give a mention several
gold candidates; its rank is that of the best-ranked one, so the top candidate is right when it is
any of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def gold_rank(scores: np.ndarray, labels: Sequence[int]) -> int:
    """0-based rank of the best-ranked gold candidate when sorted by descending score; -1 if no gold.

    Ties keep the retrieval order (stable sort), so identical scores never favour the gold.
    """
    labels = np.asarray(labels)
    if not labels.size or not labels.any():
        return -1
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    return int(np.nonzero(labels[order] > 0)[0][0])


def rerank_ranks(score_lists: Sequence[np.ndarray], label_lists: Sequence[Sequence[int]]) -> np.ndarray:
    """:func:`gold_rank` of each list (pass logits or fused scores, not calibrated probabilities)."""
    return np.asarray([gold_rank(s, y) for s, y in zip(score_lists, label_lists, strict=True)], dtype=np.int64)


def top_two(
    score_lists: Sequence[np.ndarray], rank_lists: Sequence[np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per list: index of the top candidate, top score and second score (0 when a list has one candidate).

    Candidates are ordered by ``rank_lists`` when given (e.g. fused scores), else by the scores
    themselves. Empty lists give index -1 and scores 0.
    """
    top_index = np.full(len(score_lists), -1, dtype=np.int64)
    top = np.zeros(len(score_lists), dtype=np.float64)
    second = np.zeros(len(score_lists), dtype=np.float64)
    for i, scores in enumerate(score_lists):
        if len(scores) == 0:
            continue
        ranking = scores if rank_lists is None else rank_lists[i]
        order = np.argsort(-np.asarray(ranking, dtype=np.float64), kind="stable")
        top_index[i] = order[0]
        top[i] = scores[order[0]]
        if len(order) > 1:
            second[i] = scores[order[1]]
    return top_index, top, second
