"""Per-mention candidate concepts: dense, TF-IDF, or both fused.

For each mention the top-K *names* are retrieved, aggregated to concepts (a
concept's score is the max over its names; its best-matching name is kept) and the
top-N concepts form the candidate list. All steps are vectorised over batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..utils.rowsets import RowSets


@dataclass
class CandidateLists:
    """Candidate concepts per mention, best first; rows padded with -1 (concept, name) and NaN (score)."""

    concepts: np.ndarray  # int32 [n, N]
    scores: np.ndarray  # float32 [n, N]
    names: np.ndarray  # int32 [n, N] best-matching name row of each candidate
    generator: str

    @property
    def depth(self) -> int:
        return int(self.concepts.shape[1])

    def __len__(self) -> int:
        return int(self.concepts.shape[0])

    def gold_ranks(self, gold_sets: RowSets | Sequence[set[int] | frozenset[int]]) -> np.ndarray:
        """0-based rank of the first gold concept in each list, -1 when absent."""
        gold = gold_sets if isinstance(gold_sets, RowSets) else RowSets.from_sets(gold_sets)
        hits = gold.contains(np.arange(len(self))[:, None], self.concepts)
        return np.where(hits.any(axis=1), hits.argmax(axis=1), -1).astype(np.int64)

    def recall_at(self, ranks: np.ndarray, k: int) -> float:
        return float(np.mean((ranks >= 0) & (ranks < k))) if len(ranks) else 0.0


def _first_per_group(keys: np.ndarray) -> np.ndarray:
    """Indices (into the flattened row-major array) of the first occurrence of each key."""
    _, first = np.unique(keys, return_index=True)
    return np.sort(first)


def _take_top_per_row(rows: np.ndarray, values: dict[str, np.ndarray], n_rows: int, n: int, fill: dict) -> dict:
    """Keep the first ``n`` items of each row (``rows`` sorted ascending, items in rank order)."""
    counts = np.bincount(rows, minlength=n_rows)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    position = np.arange(len(rows)) - starts[rows]
    keep = position < n
    out = {}
    for key, array in values.items():
        table = np.full((n_rows, n), fill[key], dtype=array.dtype)
        table[rows[keep], position[keep]] = array[keep]
        out[key] = table
    return out


TIE_TOLERANCE = 1e-6
_PRIOR_BITS, _ROW_BITS = 12, 27


def break_ties(
    name_ids: np.ndarray,
    scores: np.ndarray,
    name_concept: np.ndarray,
    name_prior: np.ndarray | None = None,
    concept_prior: np.ndarray | None = None,
    tolerance: float = TIE_TOLERANCE,
) -> tuple[np.ndarray, np.ndarray]:
    """Order each row's equally similar names by a prior, the same way on every device.

    A string shared by several concepts ("DM": myotonic dystrophy, diabetes mellitus) gets one
    embedding, so its concepts score alike and the searcher's order among them is arbitrary (faiss
    on CPU and the torch search on GPU disagree). In rows sorted by score, names within
    ``tolerance`` of the previous one form a tie group; within it, names go by the training
    mentions that carried that exact string for that concept (``name_prior``), then the concept's
    training mentions (``concept_prior``; both saturate at 4,095), then name row. The group's
    scores are set to its first (best), so later steps (fusion with reranker logits) see them as
    equal and keep this order. Invalid entries (id -1) stay at the end of their row. Only rows
    holding a tie are re-sorted. The tolerance is tight on purpose: a looser one would chain the
    dense score ranges of a large KB's top names into one group.
    """
    n_rows, k = name_ids.shape
    if k < 2 or n_rows == 0:
        return name_ids, scores
    if name_concept.shape[0] >= 1 << _ROW_BITS or k >= 1 << (64 - 2 * _PRIOR_BITS - _ROW_BITS - 1):
        raise ValueError(f"break_ties handles up to {1 << _ROW_BITS:,} names and short rows; got k={k}")
    valid = name_ids >= 0
    with np.errstate(invalid="ignore"):  # -inf - -inf past a row's end
        filled = np.where(valid, scores, -np.inf).astype(np.float64)
        tied = (filled[:, :-1] - filled[:, 1:] <= tolerance) & valid[:, 1:]
    rows = np.flatnonzero(tied.any(axis=1))
    if not len(rows):
        return name_ids, scores
    ids, sub_valid = name_ids[rows], valid[rows]
    starts = np.concatenate([np.ones((len(rows), 1), dtype=bool), ~tied[rows]], axis=1)
    first = np.maximum.accumulate(np.where(starts, np.arange(k), 0), axis=1)
    safe = np.where(sub_valid, ids, 0).astype(np.int64)
    cap = (1 << _PRIOR_BITS) - 1
    by_name = cap - np.minimum(name_prior[safe], cap) if name_prior is not None else 0
    by_concept = cap - np.minimum(concept_prior[name_concept[safe]], cap) if concept_prior is not None else 0
    group = np.where(sub_valid, first, k).astype(np.int64)
    key = (
        (group << (2 * _PRIOR_BITS + _ROW_BITS))
        | (np.asarray(by_name, np.int64) << (_PRIOR_BITS + _ROW_BITS))
        | (np.asarray(by_concept, np.int64) << _ROW_BITS)
        | safe
    )
    order = np.argsort(key, axis=1)
    within = np.arange(len(rows))[:, None]
    new_scores = np.where(sub_valid, scores[rows][within, first], scores[rows]).astype(scores.dtype, copy=False)
    name_ids, scores = name_ids.copy(), scores.copy()
    name_ids[rows] = ids[within, order]
    scores[rows] = new_scores[within, order]
    return name_ids, scores


def aggregate_to_concepts(
    name_ids: np.ndarray,
    scores: np.ndarray,
    name_concept: np.ndarray,
    n: int,
    generator: str,
    name_prior: np.ndarray | None = None,
    concept_prior: np.ndarray | None = None,
) -> CandidateLists:
    """Turn per-mention top-K names (sorted by score) into top-``n`` concepts (max over names).

    Equal scores are ordered by the priors (:func:`break_ties`), so the result does not depend on
    the searcher's order among ties.
    """
    name_ids, scores = break_ties(name_ids, scores, name_concept, name_prior, concept_prior)
    n_rows, k = name_ids.shape
    valid = name_ids >= 0
    concepts = np.where(valid, name_concept[np.where(valid, name_ids, 0)], -1).astype(np.int64)
    n_concepts = int(name_concept.max()) + 2 if len(name_concept) else 2
    keys = np.arange(n_rows, dtype=np.int64)[:, None] * n_concepts + (concepts + 1)
    flat_keys = np.where(valid, keys, -1).ravel()
    first = _first_per_group(flat_keys)
    first = first[flat_keys[first] >= 0]
    rows = first // k
    table = _take_top_per_row(
        rows,
        {
            "concepts": concepts.ravel()[first].astype(np.int32),
            "scores": scores.ravel()[first].astype(np.float32),
            "names": name_ids.ravel()[first].astype(np.int32),
        },
        n_rows,
        n,
        {"concepts": -1, "scores": np.nan, "names": -1},
    )
    return CandidateLists(table["concepts"], table["scores"], table["names"], generator)


def fuse_lists(
    a: CandidateLists, b: CandidateLists, n: int, method: str = "rrf", rrf_k: int = 60, alpha: float = 0.5
) -> CandidateLists:
    """Fuse two candidate lists per mention.

    ``rrf``: score = sum over lists of 1 / (rrf_k + rank + 1). ``interpolate``: score =
    alpha * a + (1 - alpha) * b, a list's missing score counting as its row minimum.
    The best-matching name comes from ``a`` when present there, else from ``b``.
    """
    n_rows = len(a)
    concepts = np.concatenate([a.concepts, b.concepts], axis=1).astype(np.int64)
    names = np.concatenate([a.names, b.names], axis=1)
    if method == "rrf":
        ranks_a = np.arange(a.depth)[None, :].repeat(n_rows, 0)
        ranks_b = np.arange(b.depth)[None, :].repeat(n_rows, 0)
        contrib = np.concatenate([1.0 / (rrf_k + ranks_a + 1), 1.0 / (rrf_k + ranks_b + 1)], axis=1)
    elif method == "interpolate":
        fill_a = np.nanmin(np.where(np.isnan(a.scores), np.inf, a.scores), axis=1, keepdims=True)
        fill_b = np.nanmin(np.where(np.isnan(b.scores), np.inf, b.scores), axis=1, keepdims=True)
        fill_a = np.where(np.isfinite(fill_a), fill_a, 0.0)
        fill_b = np.where(np.isfinite(fill_b), fill_b, 0.0)
        contrib = np.concatenate([alpha * a.scores, (1 - alpha) * b.scores], axis=1)
        # a concept missing from one list gets that list's row minimum (added below)
    else:
        raise ValueError(f"unknown fusion method {method!r} (expected rrf or interpolate)")
    valid = concepts >= 0
    n_concepts = int(concepts.max()) + 2 if valid.any() else 2
    keys = np.where(valid, np.arange(n_rows, dtype=np.int64)[:, None] * n_concepts + concepts, -1).ravel()
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    keep = sorted_keys >= 0
    order, sorted_keys = order[keep], sorted_keys[keep]
    unique_keys, start = np.unique(sorted_keys, return_index=True)
    totals = np.add.reduceat(np.nan_to_num(contrib.ravel()[order]), start) if len(order) else np.zeros(0)
    first_pos = order[start]  # first occurrence (in a, when present there) keeps its name
    if method == "interpolate":
        in_a = np.zeros(len(unique_keys), dtype=bool)
        in_b = np.zeros(len(unique_keys), dtype=bool)
        col = order % (a.depth + b.depth)
        group = np.repeat(np.arange(len(unique_keys)), np.diff(np.append(start, len(order))))
        in_a[group[col < a.depth]] = True
        in_b[group[col >= a.depth]] = True
        rows_u = unique_keys // n_concepts
        totals = (
            totals
            + np.where(in_a, 0.0, alpha * fill_a[rows_u, 0])
            + np.where(in_b, 0.0, (1 - alpha) * fill_b[rows_u, 0])
        )
    rows = unique_keys // n_concepts
    # sort by row, then score descending
    rank_order = np.lexsort((-totals, rows))
    table = _take_top_per_row(
        rows[rank_order],
        {
            "concepts": (unique_keys % n_concepts)[rank_order].astype(np.int32),
            "scores": totals[rank_order].astype(np.float32),
            "names": names.ravel()[first_pos][rank_order].astype(np.int32),
        },
        n_rows,
        n,
        {"concepts": -1, "scores": np.nan, "names": -1},
    )
    return CandidateLists(table["concepts"], table["scores"], table["names"], f"fusion-{method}")
