"""One split after retrieval, on arrays: labels, positives, candidate-list entries and pair rows.

Everything here is vectorised over the split's mentions except choosing the name shown for a
gold concept that retrieval missed (:func:`best_name_row`, character trigrams, per such gold).
The results become the columns of the candidate-list and pair datasets (:func:`list_columns`,
:func:`pair_columns`) through Arrow, without a Python object per candidate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ..corpora.mention import Mention
from ..kb.model import KnowledgeBase
from ..kb.normalize import normalize_name
from ..retrieval.candidates import CandidateLists
from ..utils.rowsets import RowSets
from .columns import KBColumns, list_array
from .name_keys import NameKeys
from .negatives import NEGATIVE_KINDS, NegativeSampler

PAIR_KINDS = ("positive", *NEGATIVE_KINDS)


def _trigrams(normalized: str) -> set[str]:
    text = f"  {normalized}  "
    return {text[i : i + 3] for i in range(len(text) - 2)}


def _most_similar(mention: str, rows: list[int], normalized_names: list[str]) -> int:
    """The row whose normalised name has the highest trigram Jaccard with the mention (the first on ties)."""
    target = _trigrams(normalize_name(mention))
    best, best_score = rows[0], -1.0
    for row, name in zip(rows, normalized_names, strict=True):
        grams = _trigrams(name)
        score = len(target & grams) / max(1, len(target | grams))
        if score > best_score:
            best, best_score = row, score
    return best


def best_name_row(kb: KnowledgeBase, concept: int, mention: str) -> int:
    """The concept's name most similar to ``mention`` by character-trigram Jaccard of normalised strings."""
    rows = kb.names_of(concept).tolist()
    if len(rows) == 1:
        return rows[0]
    names = kb.name_list
    return _most_similar(mention, rows, [normalize_name(names[row]) for row in rows])


class BestNames:
    """:func:`best_name_row` for many (concept, mention) pairs, with the KB's normalised names taken in one
    go and a cache (the same gold is missed for the same mention text often)."""

    def __init__(self, kb: KnowledgeBase, name_keys: NameKeys):
        self.kb = kb
        self.keys = name_keys
        self._cache: dict[tuple[int, str], int] = {}

    def rows(self, concepts: Sequence[int], mentions: Sequence[str]) -> np.ndarray:
        out = np.empty(len(concepts), dtype=np.int64)
        todo: list[tuple[int, int, str, list[int]]] = []
        for i, (concept, mention) in enumerate(zip(concepts, mentions, strict=True)):
            row = self._cache.get((concept, mention))
            if row is None:
                rows = self.kb.names_of(concept).tolist()
                if len(rows) > 1:
                    todo.append((i, concept, mention, rows))
                    continue
                row = self._cache[(concept, mention)] = rows[0]
            out[i] = row
        names = self.keys.normalized_names(np.array([r for *_, rows in todo for r in rows], dtype=np.int64))
        start = 0
        for i, concept, mention, rows in todo:
            row = _most_similar(mention, rows, names[start : start + len(rows)])
            out[i] = self._cache[(concept, mention)] = row
            start += len(rows)
        return out


@dataclass
class ListEntries:
    """The candidate-list entries of every mention, flat: row ``r`` is ``offsets[r]:offsets[r + 1]``."""

    offsets: np.ndarray  # int64 [n + 1]
    concepts: np.ndarray  # int64
    names: np.ndarray  # int64 name row (-1: the preferred name)
    scores: np.ndarray  # float32 (NaN for an inserted gold)
    labels: np.ndarray  # int8
    inserted: np.ndarray  # bool [n]: the gold was appended to the row's list
    synonyms_dropped: int

    def __len__(self) -> int:
        return len(self.concepts)


@dataclass
class PairRows:
    """Labelled pairs, ordered by mention, then kind (positive, hard, type, random), then rank or draw."""

    rows: np.ndarray  # int64 mention row
    concepts: np.ndarray  # int64
    names: np.ndarray  # int64 name row (-1: the preferred name)
    kinds: np.ndarray  # int8 index into PAIR_KINDS
    scores: np.ndarray  # float32 (NaN when not retrieved)

    def __len__(self) -> int:
        return len(self.rows)

    def counts(self) -> dict[str, int]:
        counts = np.bincount(self.kinds, minlength=len(PAIR_KINDS))
        return {kind: int(c) for kind, c in zip(PAIR_KINDS, counts, strict=True) if c}


@dataclass
class CandidateTable:
    """A split's candidate lists with gold labels, the false-negative filter and positives.

    Attributes:
        concepts / names / scores: the final candidate lists ([n, depth], padded with -1 / NaN).
        gold: each mention's gold concepts in the KB.
        labels: candidate is a gold concept.
        synonyms: candidate is not gold but shares a normalised name with it (same-name filter).
        ranks: rank of the first gold candidate, -1 when retrieval missed every gold.
        positive_names / positive_scores: per gold concept (``gold.values`` order), the name row and
            score it was retrieved with, or its best-matching name and NaN when it was not retrieved.
        gold_scores: each mention's best retrieved gold score (NaN: none retrieved).
    """

    concepts: np.ndarray
    names: np.ndarray
    scores: np.ndarray
    gold: RowSets
    labels: np.ndarray
    synonyms: np.ndarray
    ranks: np.ndarray
    positive_names: np.ndarray
    positive_scores: np.ndarray
    gold_scores: np.ndarray

    @classmethod
    def build(
        cls, lists: CandidateLists, gold: RowSets, texts: Sequence[str], sampler: NegativeSampler, best_names: BestNames
    ) -> CandidateTable:
        concepts = lists.concepts.astype(np.int64)
        names = lists.names.astype(np.int64)
        scores = lists.scores.astype(np.float32)
        n = len(concepts)
        is_gold, synonyms = sampler.false_negatives(np.arange(n)[:, None], concepts, gold)
        labels = is_gold & (concepts >= 0)
        ranks = np.where(labels.any(axis=1), labels.argmax(axis=1), -1).astype(np.int64)
        gold_rows = gold.rows
        hit = concepts[gold_rows] == gold.values[:, None]
        found = hit.any(axis=1)
        column = hit.argmax(axis=1)
        positive_names = np.where(found, names[gold_rows, column], -1)
        positive_scores = np.where(found, scores[gold_rows, column], np.nan).astype(np.float32)
        missed = np.nonzero(~found)[0]
        positive_names[missed] = best_names.rows(
            gold.values[missed].tolist(), [texts[r] for r in gold_rows[missed].tolist()]
        )
        gold_scores = np.full(n, np.nan)
        np.fmax.at(gold_scores, gold_rows[found], positive_scores[found])
        return cls(concepts, names, scores, gold, labels, synonyms, ranks, positive_names, positive_scores, gold_scores)

    @property
    def has_gold(self) -> np.ndarray:
        return self.gold.lengths > 0

    def list_entries(self, training: bool, include_gold: bool) -> ListEntries:
        """Each mention's list: every candidate; for training, without the gold's synonyms and with the
        gold appended (in place of the last candidate) when retrieval missed it."""
        n, depth = self.concepts.shape
        keep = self.concepts >= 0
        inserted = np.zeros(n, dtype=bool)
        dropped = 0
        if training:
            drop = keep & self.synonyms & self.has_gold[:, None]
            dropped = int(drop.sum())
            keep &= ~drop
            if include_gold:
                inserted = self.has_gold & (self.ranks < 0)
                keep[inserted] &= np.cumsum(keep[inserted], axis=1) <= depth - 1
        first = self.gold.offsets[:-1][inserted]  # the smallest gold id and its best-matching name
        extra = np.full(n, -1, dtype=np.int64)
        extra_names = np.full(n, -1, dtype=np.int64)
        extra[inserted], extra_names[inserted] = self.gold.values[first], self.positive_names[first]
        keep = np.concatenate([keep, inserted[:, None]], axis=1)
        labels = np.concatenate([self.labels, np.ones((n, 1), dtype=bool)], axis=1)
        return ListEntries(
            offsets=np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(np.int64),
            concepts=np.concatenate([self.concepts, extra[:, None]], axis=1)[keep],
            names=np.concatenate([self.names, extra_names[:, None]], axis=1)[keep],
            scores=np.concatenate([self.scores, np.full((n, 1), np.nan, np.float32)], axis=1)[keep],
            labels=labels[keep].astype(np.int8),
            inserted=inserted,
            synonyms_dropped=dropped,
        )

    def pairs(self, sampler: NegativeSampler) -> PairRows:
        """Positives (every gold concept, in id order) and the sampler's negatives of mentions with a gold."""
        rows = np.nonzero(self.has_gold)[0]
        negatives = sampler.sample_batch(
            self.gold.take(rows),
            self.concepts[rows],
            self.scores[rows],
            self.names[rows],
            self.gold_scores[rows],
            false_negatives=(self.labels[rows], self.synonyms[rows]),
        )
        n_positive = len(self.gold.values)
        mention = np.concatenate([self.gold.rows, rows[negatives.rows]])
        kinds = np.concatenate([np.zeros(n_positive, np.int8), negatives.kinds + 1]).astype(np.int8)
        order = np.argsort(mention * len(PAIR_KINDS) + kinds, kind="stable")
        return PairRows(
            rows=mention[order],
            concepts=np.concatenate([self.gold.values, negatives.concepts])[order],
            names=np.concatenate([self.positive_names, negatives.names])[order],
            kinds=kinds[order],
            scores=np.concatenate([self.positive_scores, negatives.scores])[order],
        )


def list_columns(
    mentions: Sequence[Mention],
    queries: Sequence[str],
    table: CandidateTable,
    entries: ListEntries,
    columns: KBColumns,
    texts: pa.Array,
) -> dict:
    """The candidate-list dataset's columns (``texts``: the formatted text of each entry)."""
    # the sorted types of each distinct gold set, else the mention's own types
    concepts = np.unique(table.gold.values)
    types_of = dict(zip(concepts.tolist(), columns.types(concepts).to_pylist(), strict=True))
    values, offsets = table.gold.values.tolist(), table.gold.offsets.tolist()
    sorted_types: dict[tuple[int, ...], list[str]] = {}
    out_types = []
    for row, mention in enumerate(mentions):
        gold = tuple(values[offsets[row] : offsets[row + 1]])
        types = sorted_types.get(gold)
        if types is None:
            types = sorted_types[gold] = sorted({t for g in gold for t in types_of[g]})
        out_types.append(types or list(mention.types))
    return {
        "mention_id": [m.mention_id for m in mentions],
        "doc_id": [m.doc_id for m in mentions],
        "mention": [m.text for m in mentions],
        "query": list(queries),
        "gold_ids": [list(m.gold_ids) for m in mentions],
        "gold_types": out_types,
        "gold_in_kb": table.has_gold,
        "gold_rank": table.ranks.astype(np.int32),
        "gold_inserted": entries.inserted,
        "candidate_ids": list_array(entries.offsets, columns.ids(entries.concepts)),
        "candidate_texts": list_array(entries.offsets, texts),
        "candidate_names": list_array(entries.offsets, columns.names(entries.concepts, entries.names)),
        "candidate_types": list_array(entries.offsets, columns.types(entries.concepts)),
        "retrieval_scores": list_array(entries.offsets, pa.array(entries.scores, pa.float32())),
        "labels": list_array(entries.offsets, pa.array(entries.labels, pa.int8())),
    }


def pair_columns(
    mentions: Sequence[Mention],
    queries: Sequence[str],
    table: CandidateTable,
    pairs: PairRows,
    columns: KBColumns,
    texts: pa.Array,
) -> dict:
    """The pair dataset's columns (``texts``: the formatted candidate text of each pair)."""
    first_gold = table.gold.first()
    return {
        "query": pa.array(queries, pa.string()).take(pairs.rows),
        "candidate": texts,
        "label": (pairs.kinds == 0).astype(np.float32),
        "kind": pa.array(PAIR_KINDS, pa.string()).take(pairs.kinds),
        "mention_id": pa.array([m.mention_id for m in mentions], pa.string()).take(pairs.rows),
        "concept_id": columns.ids(pairs.concepts),
        "gold_id": columns.ids(first_gold[pairs.rows]),
        "retrieval_score": pairs.scores,
    }
