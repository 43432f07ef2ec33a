"""A knowledge base from annotated mentions: each concept's distinct surface forms become its names.

Used where no terminology is at hand (the quickstart, the MedMentions benchmark:
"KB = the distinct surface forms of each CUI in the training portion") and for the
opt-in ``add_training_mentions`` augmentation of a real KB. Never build it from
evaluation mentions.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

import pyarrow as pa

from ..corpora.mention import Mention
from .model import ConceptRecord, KnowledgeBase


def _with_mention_counts(kb: KnowledgeBase, counts: Mapping[tuple[int, str], int]) -> KnowledgeBase:
    """``kb`` with its ``names.mentions`` column set to ``counts[(concept index, name)]`` (default 0)."""
    column = [counts.get(key, 0) for key in zip(kb.name_concept.tolist(), kb.name_list, strict=True)]
    names = kb.names
    if "mentions" in names.column_names:
        names = names.drop_columns(["mentions"])
    names = names.append_column("mentions", pa.array(column, pa.int32()))
    return KnowledgeBase(concepts=kb.concepts, names=names, aliases=kb.aliases, metadata=kb.metadata)


def kb_from_mentions(
    mentions: Iterable[Mention],
    types_map: Mapping[str, Sequence[str]] | None = None,
    source: str = "mentions",
) -> KnowledgeBase:
    """One concept per gold id; names = distinct mention strings (most frequent first = preferred name).

    Composite mentions (several gold ids) are skipped: their string names none of the concepts alone.
    Names are the surface strings (``Mention.surface_text``), also for expanded abbreviations.
    Each name row records how many mentions carried it (``KnowledgeBase.name_mentions``).
    """
    surface: dict[str, Counter] = defaultdict(Counter)
    types: dict[str, set[str]] = defaultdict(set)
    n_mentions = 0
    for mention in mentions:
        if len(mention.gold_ids) != 1:
            continue
        cid = mention.gold_ids[0]
        surface[cid][mention.surface_text] += 1
        types[cid].update(mention.types)
        n_mentions += 1
    records = []
    for cid in sorted(surface):
        names = [name for name, _ in surface[cid].most_common()]
        tuis = list((types_map or {}).get(cid, ())) or sorted(types[cid])
        records.append(ConceptRecord(concept_id=cid, names=names, preferred_name=names[0], types=tuis))
    kb = KnowledgeBase.from_records(records, metadata={"source": source, "from_mentions": n_mentions})
    index = kb.id_to_index
    return _with_mention_counts(kb, {(index[cid], name): n for cid in surface for name, n in surface[cid].items()})


def add_mention_names(kb: KnowledgeBase, mentions: Iterable[Mention]) -> tuple[KnowledgeBase, int]:
    """A copy of ``kb`` whose concepts also carry the (single-gold) mention strings as names.

    Returns the new KB and the number of names added. Every name row records how many of the
    mentions carried it (``KnowledgeBase.name_mentions``, added to any earlier counts), also where
    the string already was a dictionary name. Opt-in augmentation with
    training mentions only (BioSyn-style); gold ids not in the KB are ignored. The names are the
    surface strings (``Mention.surface_text``: "DMD", not its expansion), so the KB is the same
    with or without ``corpus.expand_abbreviations``.
    """
    extra: dict[int, list[str]] = defaultdict(list)
    counts: Counter = Counter()
    for mention in mentions:
        if len(mention.gold_ids) != 1:
            continue
        index = kb.resolve(mention.gold_ids[0])
        if index is not None:
            extra[index].append(mention.surface_text)
            counts[index, mention.surface_text] += 1
    if not extra:
        return kb, 0
    for key, n in zip(zip(kb.name_concept.tolist(), kb.name_list, strict=True), kb.name_mentions.tolist(), strict=True):
        if n:
            counts[key] += n
    ids, preferred, types = kb.concept_ids, kb.preferred_names, kb.concept_types
    names = kb.name_list
    own: dict[int, list[str]] = defaultdict(list)
    for row, concept in enumerate(kb.name_concept.tolist()):
        own[concept].append(names[row])
    definitions = kb.concepts.column("definition").to_pylist()
    alias_pairs = defaultdict(list)
    for alias, index in zip(
        kb.aliases.column("alias_id").to_pylist(), kb.aliases.column("concept_index").to_pylist(), strict=True
    ):
        alias_pairs[index].append(alias)
    records = [
        ConceptRecord(ids[i], own[i] + extra.get(i, []), preferred[i], types[i], definitions[i], alias_pairs.get(i, ()))
        for i in range(kb.n_concepts)
    ]
    meta = {k: v for k, v in kb.metadata.items() if k != "checksum"}
    meta["augmented_with_mentions"] = sum(len(v) for v in extra.values())
    new = _with_mention_counts(KnowledgeBase.from_records(records, metadata=meta), counts)
    return new, new.n_names - kb.n_names
