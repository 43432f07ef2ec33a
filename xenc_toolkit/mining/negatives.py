"""Negative samplers: semantic hard negatives, type negatives and random negatives.

Negatives are chosen at the **concept** level, with a false-negative filter: a
concept is never a negative for a mention if it is a gold concept, if one of its
names normalises to a name of a gold concept (a synonym under another id), or if
it is what a retired gold CUI maps to in MRCUI (resolved through the KB aliases).
String-level mining (as ``sentence_transformers.util.mine_hard_negatives``) labels
a concept's other names as negatives; this sampler cannot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..config import NegativesConfig
from ..kb.model import KnowledgeBase


@dataclass
class Negative:
    concept: int
    kind: str  # "hard" | "type" | "random"
    score: float  # retrieval score (NaN when the concept was not retrieved)
    name: int  # name row shown to the model (-1: use the preferred name)
    rank: int  # rank in the candidate list (-1 when not in it)


class NegativeSampler:
    def __init__(self, kb: KnowledgeBase, cfg: NegativesConfig, seed: int = 42):
        self.kb = kb
        self.cfg = cfg
        self.rng = np.random.default_rng(seed)
        self.filtered = {"hard": 0, "type": 0, "random": 0}
        self._pools: dict[frozenset[str], np.ndarray] = {}
        self._last_gold: frozenset[int] | None = None
        self._last_gold_keys: frozenset[str] = frozenset()

    # ------------------------------------------------------------------ filter
    def is_false_negative(self, concept: int, gold: frozenset[int]) -> bool:
        if concept in gold:
            return True
        if not self.cfg.same_name_filter:
            return False
        return not self.kb.name_keys(concept).isdisjoint(self._gold_keys(gold))

    def _gold_keys(self, gold: frozenset[int]) -> frozenset[str]:
        """All normalised names of the gold concepts (the last mention's, cached: a mention asks many times)."""
        if self._last_gold is not gold:
            keys = [self.kb.name_keys(g) for g in gold]
            self._last_gold, self._last_gold_keys = gold, frozenset().union(*keys) if keys else frozenset()
        return self._last_gold_keys

    # ------------------------------------------------------------------ kinds
    def hard(
        self,
        gold: frozenset[int],
        concepts: np.ndarray,
        scores: np.ndarray,
        names: np.ndarray,
        gold_score: float | None,
    ) -> list[Negative]:
        cfg = self.cfg.hard
        if not cfg.enabled or cfg.count == 0:
            return []
        stop = len(concepts) if cfg.max_rank is None else min(len(concepts), cfg.max_rank)
        eligible: list[int] = []
        for rank in range(cfg.min_rank, stop):
            concept = int(concepts[rank])
            if concept < 0:
                break
            if cfg.margin is not None and gold_score is not None and np.isfinite(gold_score):
                limit = gold_score - cfg.margin if cfg.margin_type == "absolute" else gold_score * (1 - cfg.margin)
                if scores[rank] > limit:
                    continue
            if self.is_false_negative(concept, gold):
                if concept not in gold:
                    self.filtered["hard"] += 1
                continue
            eligible.append(rank)
        if cfg.sampling == "random" and len(eligible) > cfg.count:
            eligible = sorted(self.rng.choice(eligible, cfg.count, replace=False).tolist())
        return [Negative(int(concepts[r]), "hard", float(scores[r]), int(names[r]), r) for r in eligible[: cfg.count]]

    def _pool(self, gold: frozenset[int]) -> np.ndarray | None:
        cfg = self.cfg.type
        kb = self.kb
        if cfg.level == "type":
            keys: Iterable[str] = {t for g in gold for t in kb.types_of(g)}
            table = kb.concepts_by_type
        else:
            keys = {grp for g in gold for grp in kb.groups_of(g)}
            table = kb.concepts_by_group
        present = frozenset(k for k in keys if k in table)
        if not present:
            return None
        pool = self._pools.get(present)
        if pool is None:  # mentions share few type combinations: build each pool once
            pool = np.unique(np.concatenate([table[k] for k in sorted(present)]))
            self._pools[present] = pool
        return pool

    def typed(self, gold: frozenset[int], exclude: set[int]) -> list[Negative]:
        cfg = self.cfg.type
        if not cfg.enabled or cfg.count == 0 or not gold:
            return []
        pool = self._pool(gold)
        if pool is None:
            return []
        if cfg.mode == "same":
            return self._draw(pool, gold, exclude, cfg.count, "type")
        # different type: draw uniformly and reject same-type concepts
        same = set(pool.tolist())
        return self._draw(None, gold, exclude | same, cfg.count, "type")

    def random(self, gold: frozenset[int], exclude: set[int]) -> list[Negative]:
        cfg = self.cfg.random
        if not cfg.enabled or cfg.count == 0:
            return []
        return self._draw(None, gold, exclude, cfg.count, "random")

    def _draw(self, pool: np.ndarray | None, gold, exclude: set[int], count: int, kind: str) -> list[Negative]:
        out: list[Negative] = []
        size = len(pool) if pool is not None else self.kb.n_concepts
        if size == 0:
            return out
        attempts = 0
        chosen: set[int] = set()
        while len(out) < count and attempts < 20 * count + 20:
            attempts += 1
            pick = int(self.rng.integers(size))
            concept = int(pool[pick]) if pool is not None else pick
            if concept in exclude or concept in chosen:
                continue
            if self.is_false_negative(concept, gold):
                if concept not in gold:
                    self.filtered[kind] += 1
                continue
            chosen.add(concept)
            out.append(Negative(concept, kind, float("nan"), -1, -1))
        return out

    def sample(
        self,
        gold: frozenset[int],
        concepts: np.ndarray,
        scores: np.ndarray,
        names: np.ndarray,
        gold_score: float | None = None,
    ) -> list[Negative]:
        """All negatives of one mention, hard first."""
        negatives = self.hard(gold, concepts, scores, names, gold_score)
        exclude = {int(c) for c in concepts if c >= 0}
        negatives += self.typed(gold, exclude)
        exclude |= {n.concept for n in negatives}
        negatives += self.random(gold, exclude)
        return negatives
