"""A knowledge base from annotated mentions: each concept's distinct surface forms become its names.

Used where no terminology is at hand (the quickstart, the MedMentions benchmark:
"KB = the distinct surface forms of each CUI in the training portion") and for the
opt-in ``add_training_mentions`` augmentation of a real KB. Never build it from
evaluation mentions.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Container, Iterable, Mapping, Sequence

import pyarrow as pa

from ..corpora.mention import Mention
from .model import ConceptRecord, KnowledgeBase
from .readable_names import readable_name


def _with_mention_counts(
    kb: KnowledgeBase, counts: Mapping[tuple[int, str], int], added: Container[tuple[int, str]] | None = None
) -> KnowledgeBase:
    """``kb`` with its ``names.mentions`` column set to ``counts[(concept index, name)]`` (default 0).

    With ``added`` (the ``(concept index, name)`` keys that only mentions put into the KB), also its
    ``names.dictionary`` column: False for those rows, True for the others.
    """
    mentions, dictionary = [], []
    for key in zip(kb.name_concept.tolist(), kb.name_list, strict=True):
        mentions.append(counts.get(key, 0))
        if added is not None:
            dictionary.append(key not in added)
    columns = {"mentions": pa.array(mentions, pa.int32())}
    if added is not None:
        columns["dictionary"] = pa.array(dictionary, pa.bool_())
    names = kb.names.drop_columns([c for c in columns if c in kb.names.column_names])
    for name, column in columns.items():
        names = names.append_column(name, column)
    return kb.with_names(names)


def kb_from_mentions(
    mentions: Iterable[Mention],
    types_map: Mapping[str, Sequence[str]] | None = None,
    source: str = "mentions",
) -> KnowledgeBase:
    """One concept per gold id; names = distinct mention strings, most frequent first.

    The preferred (display) name is the most frequent form that is not an abbreviation of another
    form of the concept ("myocardial infarction", not "mi"; :func:`~xenc_toolkit.kb.readable_names.readable_name`).

    Composite mentions (several gold ids) are skipped: their string names none of the concepts alone.
    Names are the surface strings (``Mention.surface_text``), also for expanded abbreviations.
    Each name row records how many mentions carried it (``KnowledgeBase.name_mentions``); none is
    a dictionary name (``KnowledgeBase.name_in_dictionary`` is all False).
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
        records.append(
            ConceptRecord(concept_id=cid, names=names, preferred_name=readable_name(surface[cid]), types=tuis)
        )
    kb = KnowledgeBase.from_records(records, metadata={"source": source, "from_mentions": n_mentions})
    index = kb.id_to_index
    counts = {(index[cid], name): n for cid in surface for name, n in surface[cid].items()}
    return _with_mention_counts(kb, counts, added=counts.keys())


def add_mention_names(kb: KnowledgeBase, mentions: Iterable[Mention]) -> tuple[KnowledgeBase, int]:
    """A copy of ``kb`` whose concepts also carry the (single-gold) mention strings as names.

    Returns the new KB and the number of names added. Every name row records how many of the
    mentions carried it (``KnowledgeBase.name_mentions``, added to any earlier counts), also where
    the string already was a dictionary name, and whether it is a dictionary name
    (``KnowledgeBase.name_in_dictionary``: True for the rows of ``kb``, as ``kb`` had them, also
    where mentions carried the string too; False for the rows the mentions added), so that
    cross-fitting can take a fold's own strings out again
    (:func:`~xenc_toolkit.mining.folds.kb_without_mentions`). Opt-in augmentation with
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
    ids, preferred, types = kb.concept_ids, kb.preferred_names, kb.concept_types
    names = kb.name_list
    own: dict[int, list[str]] = defaultdict(list)
    added: set[tuple[int, str]] = set()  # rows no dictionary listed: earlier mentions' and these mentions' own
    for row, (concept, n, listed) in enumerate(
        zip(kb.name_concept.tolist(), kb.name_mentions.tolist(), kb.name_in_dictionary.tolist(), strict=True)
    ):
        own[concept].append(names[row])
        if n:
            counts[concept, names[row]] += n
        if not listed:
            added.add((concept, names[row]))
    for index, strings in extra.items():
        known = set(own[index])
        added.update((index, s) for s in strings if s not in known)
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
    new = _with_mention_counts(KnowledgeBase.from_records(records, metadata=meta), counts, added)
    return new, new.n_names - kb.n_names
