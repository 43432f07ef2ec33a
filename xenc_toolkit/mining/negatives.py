"""Negative samplers: semantic hard negatives, type negatives and random negatives.

Negatives are chosen at the **concept** level, with a false-negative filter: a
concept is never a negative for a mention if it is a gold concept, if one of its
names normalises to a name of a gold concept (a synonym under another id), or if
it is what a retired gold CUI maps to in MRCUI (resolved through the KB aliases).
String-level mining (as ``sentence_transformers.util.mine_hard_negatives``) labels
a concept's other names as negatives; this sampler cannot.

Per mention, hard negatives come first (eligible candidates by rank, margin and the filter;
the top ones or a random subset), then type negatives (concepts of the gold's types, or of
other types, outside the candidate list), then random ones (outside the list and the type
negatives). :meth:`NegativeSampler.sample_batch` does this for many mentions at once on
arrays (:mod:`~xenc_toolkit.mining.draws` runs the type and random rejection sampling);
:meth:`NegativeSampler.sample` is the same for one mention.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kb.model import KnowledgeBase
from ..settings import NegativesConfig
from ..utils.rowsets import RowSets
from .draws import draw_distinct
from .name_keys import NameKeys
from .type_pools import TypePools, per_pool

NEGATIVE_KINDS = ("hard", "type", "random")


@dataclass
class Negative:
    concept: int
    kind: str  # "hard" | "type" | "random"
    score: float  # retrieval score (NaN when the concept was not retrieved)
    name: int  # name row shown to the model (-1: use the preferred name)
    rank: int  # rank in the candidate list (-1 when not in it)


@dataclass
class NegativeBatch:
    """Negatives of many mentions as flat arrays, ordered by row, then kind (hard, type, random),
    then rank (hard) or draw order."""

    rows: np.ndarray  # int64 batch row of each negative
    concepts: np.ndarray  # int64
    kinds: np.ndarray  # int8 index into NEGATIVE_KINDS
    scores: np.ndarray  # float32, NaN when not retrieved
    names: np.ndarray  # int64 name row, -1: the preferred name
    ranks: np.ndarray  # int64 rank in the candidate list, -1 when not in it

    def __len__(self) -> int:
        return len(self.rows)

    def negatives(self) -> list[Negative]:
        return [
            Negative(c, NEGATIVE_KINDS[k], s, n, r)
            for c, k, s, n, r in zip(
                self.concepts.tolist(),
                self.kinds.tolist(),
                self.scores.tolist(),
                self.names.tolist(),
                self.ranks.tolist(),
                strict=True,
            )
        ]


class NegativeSampler:
    """Hard, type and random negatives with the false-negative filter (see the module docstring).

    Args:
        kb: the knowledge base.
        cfg: negative settings.
        seed: the random stream of the sampling (the same seed and inputs give the same negatives).
        name_keys: the KB's :class:`NameKeys`, when the caller already has them.
    """

    def __init__(self, kb: KnowledgeBase, cfg: NegativesConfig, seed: int = 42, name_keys: NameKeys | None = None):
        self.kb = kb
        self.cfg = cfg
        self.rng = np.random.default_rng(seed)
        self.filtered = {"hard": 0, "type": 0, "random": 0}
        self.keys = name_keys or NameKeys(kb)
        self.pools = TypePools(kb, cfg.type.level)

    # ------------------------------------------------------------------ filter
    def false_negatives(self, rows: np.ndarray, concepts: np.ndarray, gold: RowSets) -> tuple[np.ndarray, np.ndarray]:
        """``(is_gold, is_synonym)`` of each (row, concept): a gold concept, or another concept sharing a
        normalised name with the row's gold (only with ``same_name_filter``)."""
        rows, concepts = np.broadcast_arrays(np.asarray(rows, np.int64), np.asarray(concepts, np.int64))
        is_gold = gold.contains(rows, concepts)
        synonym = np.zeros(concepts.shape, dtype=bool)
        if self.cfg.same_name_filter:
            check = np.nonzero((concepts >= 0) & ~is_gold)
            synonym[check] = self.keys.share_a_key(rows[check], concepts[check], gold)
        return is_gold, synonym

    # ------------------------------------------------------------------ kinds
    def _hard(
        self,
        gold: RowSets,
        concepts: np.ndarray,
        scores: np.ndarray,
        gold_scores: np.ndarray,
        false_negatives: tuple[np.ndarray, np.ndarray] | None,
    ) -> np.ndarray:
        """Mask of the chosen hard negatives in the candidate table."""
        cfg = self.cfg.hard
        n, depth = concepts.shape
        if not cfg.enabled or cfg.count == 0 or not depth:
            return np.zeros(concepts.shape, dtype=bool)
        stop = depth if cfg.max_rank is None else min(depth, cfg.max_rank)
        rank = np.arange(depth)
        eligible = np.logical_and.accumulate(concepts >= 0, axis=1) & (rank >= cfg.min_rank) & (rank < stop)
        if cfg.margin is not None:
            known = np.isfinite(gold_scores)
            if cfg.margin_type == "absolute":
                limit = gold_scores - cfg.margin
            else:
                limit = gold_scores * (1 - cfg.margin)
            with np.errstate(invalid="ignore"):
                eligible &= ~(known[:, None] & (scores > np.where(known, limit, 0)[:, None]))
        if false_negatives is None:
            false_negatives = self.false_negatives(np.arange(n)[:, None], concepts, gold)
        is_gold, synonym = false_negatives
        synonym = synonym & ~is_gold
        self.filtered["hard"] += int((eligible & synonym).sum())
        eligible &= ~is_gold & ~synonym
        if cfg.sampling == "random":
            # a uniform subset of cfg.count eligible candidates per row: the smallest random keys
            keys = np.where(eligible, self.rng.random(concepts.shape), np.inf)
            position = np.empty(concepts.shape, dtype=np.int64)
            np.put_along_axis(position, np.argsort(keys, axis=1, kind="stable"), rank[None, :], axis=1)
            return eligible & (position < cfg.count)
        return eligible & (np.cumsum(eligible, axis=1) <= cfg.count)

    def _typed(self, gold: RowSets, exclude: RowSets) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.cfg.type
        if not cfg.enabled or cfg.count == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        pool_of_row, pools = self.pools.pools(gold)
        with_pool = np.nonzero(pool_of_row >= 0)[0]
        pool_ids = pool_of_row[with_pool]

        def same_type(rows, width):
            out = np.empty((len(rows), width), dtype=np.int64)

            def draw(pool, positions):
                picks = self.rng.integers(0, len(pools[pool]), size=(len(positions), width))
                out[positions] = pools[pool][picks]

            per_pool(pool_ids[rows], draw)
            return out

        def any_type(rows, width):
            return self.rng.integers(0, self.kb.n_concepts, size=(len(rows), width))

        def classify(rows, values):
            skip, filtered = self._classify(with_pool[rows], values, gold, exclude)
            if cfg.mode == "different":  # a concept of the pool is not of a different type

                def reject(pool, positions):
                    members = pools[pool]
                    at = np.minimum(np.searchsorted(members, values[positions]), len(members) - 1)
                    skip[positions] |= members[at] == values[positions]

                per_pool(pool_ids[rows], reject)
            return skip, filtered

        source = same_type if cfg.mode == "same" else any_type
        rows, values, filtered = self._draw(len(with_pool), cfg.count, source, classify)
        self.filtered["type"] += filtered
        return with_pool[rows], values

    def _random(self, gold: RowSets, exclude: RowSets) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.cfg.random
        if not cfg.enabled or cfg.count == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)

        def source(rows, width):
            return self.rng.integers(0, self.kb.n_concepts, size=(len(rows), width))

        rows, values, filtered = self._draw(
            gold.n_rows, cfg.count, source, lambda rows, values: self._classify(rows, values, gold, exclude)
        )
        self.filtered["random"] += filtered
        return rows, values

    def _draw(self, n_rows: int, count: int, source, classify) -> tuple[np.ndarray, np.ndarray, int]:
        if self.kb.n_concepts == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), 0
        return draw_distinct(n_rows, count, 20 * count + 20, source, classify)

    def _classify(self, rows, values, gold: RowSets, exclude: RowSets) -> tuple[np.ndarray, np.ndarray]:
        """Excluded (candidates, earlier negatives), gold and nameless (a reduced fold KB's) draws are skipped;
        synonyms are skipped and counted."""
        is_gold, synonym = self.false_negatives(rows, values, gold)
        skip = exclude.contains(rows, values) | is_gold
        has_names = self.kb.concept_has_names
        if not has_names.all():
            skip |= ~has_names[np.asarray(values, dtype=np.int64)]
        return skip, synonym

    # ------------------------------------------------------------------ all kinds
    def sample_batch(
        self,
        gold: RowSets,
        concepts: np.ndarray,
        scores: np.ndarray,
        names: np.ndarray,
        gold_scores: np.ndarray | None = None,
        false_negatives: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> NegativeBatch:
        """All negatives of a batch of mentions.

        Args:
            gold: the gold concepts of each row.
            concepts / scores / names: the candidate tables (``CandidateLists`` rows), padded with -1.
            gold_scores: each row's best gold retrieval score (NaN when the gold was not retrieved):
                the hard-negative margin is measured from it.
            false_negatives: :meth:`false_negatives` of the candidate table, when the caller has it.
        """
        concepts = np.asarray(concepts, dtype=np.int64)
        n, depth = concepts.shape
        gold_scores = np.full(n, np.nan) if gold_scores is None else np.asarray(gold_scores, dtype=np.float64)
        hard = self._hard(gold, concepts, np.asarray(scores), gold_scores, false_negatives)
        hard_rows, hard_ranks = np.nonzero(hard)
        valid = concepts >= 0
        list_rows = np.nonzero(valid)[0]
        in_list = RowSets.from_pairs(list_rows, concepts[valid], n)
        typed_rows, typed_concepts = self._typed(gold, in_list)
        if len(typed_rows):
            in_list = RowSets.from_pairs(
                np.concatenate([list_rows, typed_rows]), np.concatenate([concepts[valid], typed_concepts]), n
            )
        random_rows, random_concepts = self._random(gold, in_list)
        drawn = len(typed_rows) + len(random_rows)
        rows = np.concatenate([hard_rows, typed_rows, random_rows]).astype(np.int64)
        kinds = np.repeat(np.arange(3, dtype=np.int8), [len(hard_rows), len(typed_rows), len(random_rows)])
        order = np.lexsort((kinds, rows))  # stable: ranks and draw order kept within a kind
        return NegativeBatch(
            rows=rows[order],
            concepts=np.concatenate([concepts[hard_rows, hard_ranks], typed_concepts, random_concepts])[order],
            kinds=kinds[order],
            scores=np.concatenate(
                [np.asarray(scores, np.float32)[hard_rows, hard_ranks], np.full(drawn, np.nan, np.float32)]
            )[order],
            names=np.concatenate([np.asarray(names, np.int64)[hard_rows, hard_ranks], np.full(drawn, -1)])[order],
            ranks=np.concatenate([hard_ranks, np.full(drawn, -1)]).astype(np.int64)[order],
        )

    # ------------------------------------------------------------------ one mention
    def hard(
        self,
        gold: frozenset[int],
        concepts: np.ndarray,
        scores: np.ndarray,
        names: np.ndarray,
        gold_score: float | None,
    ) -> list[Negative]:
        """The hard negatives of one mention."""
        concepts = np.asarray(concepts, dtype=np.int64)[None, :]
        score = np.array([np.nan if gold_score is None else gold_score])
        mask = self._hard(RowSets.from_sets([gold]), concepts, np.asarray(scores)[None, :], score, None)[0]
        return [
            Negative(int(concepts[0, r]), "hard", float(scores[r]), int(names[r]), int(r)) for r in np.nonzero(mask)[0]
        ]

    def sample(
        self,
        gold: frozenset[int],
        concepts: np.ndarray,
        scores: np.ndarray,
        names: np.ndarray,
        gold_score: float | None = None,
    ) -> list[Negative]:
        """All negatives of one mention, hard first."""
        batch = self.sample_batch(
            RowSets.from_sets([gold]),
            np.asarray(concepts)[None, :],
            np.asarray(scores)[None, :],
            np.asarray(names)[None, :],
            np.array([np.nan if gold_score is None else gold_score]),
        )
        return batch.negatives()
