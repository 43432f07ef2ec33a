"""Training pairs for bi-encoder tuning: (name, synonym) pairs of KB concepts and (mention, gold name) pairs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..corpora.mention import Mention
from ..errors import ConfigError, XencError
from ..kb.model import KnowledgeBase
from ..kb.normalize import normalize_name
from ..utils.progress import track

EVALUATION_SPLITS = frozenset({"dev", "validation", "test"})
_PROGRESS_MIN_CONCEPTS = 200_000  # pairing shows a progress bar for KBs this large


# --------------------------------------------------------------------------- pairs
@dataclass
class TrainingPairs:
    """(anchor, positive) texts for in-batch-negative training, each with the concept it names.

    Attributes:
        anchors / positives: the two texts of each pair.
        concepts: KB concept index of each pair (int64), which the batch sampler keeps unique per batch.
        from_mention: whether a pair's anchor is a training mention (else both texts are KB names).
        counts: how many pairs of each kind were made and how many inputs were skipped, by reason.
    """

    anchors: list[str]
    positives: list[str]
    concepts: np.ndarray
    from_mention: np.ndarray
    counts: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.anchors)

    def select(self, rows: Sequence[int] | np.ndarray) -> TrainingPairs:
        """The pairs at ``rows`` (counts are kept as they were)."""
        rows = np.asarray(rows, dtype=np.int64)
        return TrainingPairs(
            anchors=[self.anchors[i] for i in rows.tolist()],
            positives=[self.positives[i] for i in rows.tolist()],
            concepts=self.concepts[rows],
            from_mention=self.from_mention[rows],
            counts=dict(self.counts),
        )

    def to_dataset(self):
        """A ``datasets.Dataset`` with ``anchor`` and ``positive`` columns (the loss's two inputs)."""
        from datasets import Dataset

        return Dataset.from_dict({"anchor": self.anchors, "positive": self.positives})

    @classmethod
    def concatenate(cls, parts: Sequence[TrainingPairs]) -> TrainingPairs:
        counts: dict[str, int] = {}
        for part in parts:
            for key, value in part.counts.items():
                counts[key] = counts.get(key, 0) + value
        return cls(
            anchors=[a for part in parts for a in part.anchors],
            positives=[p for part in parts for p in part.positives],
            concepts=np.concatenate([part.concepts for part in parts]).astype(np.int64, copy=False),
            from_mention=np.concatenate([part.from_mention for part in parts]).astype(bool, copy=False),
            counts=counts,
        )


def _pair_indices(k: int, n_pairs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n_pairs`` distinct unordered pairs ``(i, j)``, ``i < j < k``, drawn uniformly (all of them when fewer).

    Pairs are numbered row by row over the upper triangle and drawn by number, so a concept
    with thousands of names never materialises all its pairs.
    """
    total = k * (k - 1) // 2
    if total <= n_pairs:
        first, second = np.triu_indices(k, 1)
        return first.astype(np.int64), second.astype(np.int64)
    return _decode_pairs(np.sort(rng.choice(total, size=n_pairs, replace=False)), k)


def _decode_pairs(numbers: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Pair numbers -> ``(i, j)``: row ``i`` holds pairs ``(i, i+1) .. (i, k-1)`` and starts at ``i*k - i*(i+1)/2``."""
    p = np.asarray(numbers, dtype=np.int64)

    def start(row: np.ndarray) -> np.ndarray:
        return row * k - row * (row + 1) // 2

    i = (k - 2 - np.floor(np.sqrt(4.0 * k * (k - 1) - 8.0 * p - 7.0) / 2.0 - 0.5)).astype(np.int64)
    i = np.where(start(i) > p, i - 1, i)  # the square root's rounding, for very large k
    i = np.where(start(i + 1) <= p, i + 1, i)
    return i, p - start(i) + i + 1


def name_pairs(kb: KnowledgeBase, max_pairs_per_concept: int = 50, seed: int = 42) -> TrainingPairs:
    """Pairs of two different names of one concept, at most ``max_pairs_per_concept`` per concept.

    Names whose normalised forms agree ("Asthma", "asthma") count as one name (the first one
    in KB order is used): such a pair teaches nothing. Pairs are drawn uniformly without
    replacement with ``seed`` and each is oriented at random (which name is the anchor).
    """
    if max_pairs_per_concept < 1:
        raise ConfigError(f"max_pairs_per_concept must be at least 1, got {max_pairs_per_concept}")
    rng = np.random.default_rng(seed)
    names = kb.name_list
    anchors: list[str] = []
    positives: list[str] = []
    concepts: list[np.ndarray] = []
    one_name = 0
    paired = 0
    indices = range(kb.n_concepts)
    if kb.n_concepts >= _PROGRESS_MIN_CONCEPTS:
        indices = track(indices, "pairing KB names", total=kb.n_concepts)
    for concept in indices:
        rows = kb.names_of(concept)
        if len(rows) < 2:
            one_name += 1
            continue
        distinct: dict[str, str] = {}
        for row in rows.tolist():
            distinct.setdefault(normalize_name(names[row]), names[row])
        if len(distinct) < 2:
            one_name += 1
            continue
        texts = list(distinct.values())
        first, second = _pair_indices(len(texts), max_pairs_per_concept, rng)
        flip = rng.random(len(first)) < 0.5
        for a, b, swap in zip(first.tolist(), second.tolist(), flip.tolist(), strict=True):
            anchors.append(texts[b] if swap else texts[a])
            positives.append(texts[a] if swap else texts[b])
        concepts.append(np.full(len(first), concept, dtype=np.int64))
        paired += 1
    n = len(anchors)
    return TrainingPairs(
        anchors=anchors,
        positives=positives,
        concepts=np.concatenate(concepts) if concepts else np.zeros(0, dtype=np.int64),
        from_mention=np.zeros(n, dtype=bool),
        counts={"name_pairs": n, "concepts_paired": paired, "concepts_with_one_name": one_name},
    )


def mention_pairs(kb: KnowledgeBase, mentions: Iterable[Mention], seed: int = 42) -> TrainingPairs:
    """(mention text, a name of its gold concept) for each distinct training mention.

    The anchor is ``Mention.text``, the string retrieval embeds (the long form of an expanded
    abbreviation); the positive is one of the gold concept's names whose normalised form differs
    from the mention's, drawn with ``seed``. A mention string repeated for one concept gives one
    pair. Skipped, and counted: mentions without a gold id, composite mentions (several gold
    ids), gold ids the KB does not know, and mentions whose concept has no other name.

    Raises:
        XencError: a mention belongs to an evaluation split ("dev", "validation", "test"):
            evaluation mentions must never tune the encoder.
    """
    rng = np.random.default_rng(seed)
    names = kb.name_list
    keyed: dict[int, list[tuple[str, str]]] = {}
    seen: set[tuple[str, int]] = set()
    anchors: list[str] = []
    positives: list[str] = []
    concepts: list[int] = []
    skipped = {"unlinked": 0, "composite": 0, "unknown_id": 0, "duplicate": 0, "no_other_name": 0}
    for mention in mentions:
        if mention.split in EVALUATION_SPLITS:
            where = mention.source or mention.mention_id
            raise XencError(
                f"{where}: mention {mention.text!r} is from the {mention.split!r} split; evaluation mentions "
                "must not tune the encoder (pass training mentions only)"
            )
        if not mention.gold_ids:
            skipped["unlinked"] += 1
            continue
        if len(mention.gold_ids) > 1:
            skipped["composite"] += 1
            continue
        concept = kb.resolve(mention.gold_ids[0])
        if concept is None:
            skipped["unknown_id"] += 1
            continue
        key = normalize_name(mention.text)
        if (key, concept) in seen:
            skipped["duplicate"] += 1
            continue
        seen.add((key, concept))
        own = keyed.get(concept)
        if own is None:
            own = [(normalize_name(names[row]), names[row]) for row in kb.names_of(concept).tolist()]
            keyed[concept] = own
        others = [name for name_key, name in own if name_key != key]
        if not others:
            skipped["no_other_name"] += 1
            continue
        anchors.append(mention.text)
        positives.append(others[int(rng.integers(len(others)))])
        concepts.append(concept)
    counts = {"mention_pairs": len(anchors), **{f"mentions_skipped_{k}": v for k, v in skipped.items()}}
    return TrainingPairs(
        anchors=anchors,
        positives=positives,
        concepts=np.asarray(concepts, dtype=np.int64),
        from_mention=np.ones(len(anchors), dtype=bool),
        counts=counts,
    )


def build_training_pairs(
    kb: KnowledgeBase,
    mentions: Iterable[Mention] | None = None,
    max_pairs_per_concept: int = 50,
    seed: int = 42,
) -> TrainingPairs:
    """KB name pairs (:func:`name_pairs`) plus, when ``mentions`` are given, mention pairs (:func:`mention_pairs`).

    ``mentions`` must be training mentions (never evaluation ones; see :func:`mention_pairs`).

    Raises:
        XencError: fewer than two concepts have a pair (in-batch negatives need at least two).
    """
    parts = [name_pairs(kb, max_pairs_per_concept, seed)]
    if mentions is not None:
        parts.append(mention_pairs(kb, mentions, seed + 1))
    pairs = TrainingPairs.concatenate(parts)
    n_concepts = len(np.unique(pairs.concepts))
    pairs.counts["pairs"] = len(pairs)
    pairs.counts["concepts"] = n_concepts
    if n_concepts < 2:
        source = kb.metadata.get("source") or "KB"
        what = f"{kb.n_concepts:,} concepts ({source})"
        if mentions is None:
            extra = "and no mentions were given (tuning.use_mentions pairs training mentions with names)"
        else:
            skipped = {k[len("mentions_skipped_") :]: v for k, v in pairs.counts.items() if k.startswith("mentions_")}
            extra = (
                f"and the training mentions gave {pairs.counts.get('mention_pairs', 0)} pair(s) (skipped: {skipped})"
            )
        raise XencError(
            f"no encoder training pairs for two or more concepts: of the KB's {what}, "
            f"{pairs.counts['concepts_paired']} have two distinct names (ignoring case and punctuation), {extra}; in-batch negatives need pairs "
            "of at least two concepts"
        )
    return pairs


# --------------------------------------------------------------------------- batches
