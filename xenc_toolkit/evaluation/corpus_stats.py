"""Corpus statistics (``xenc stats``): sizes per split, concepts, types and KB coverage.

:func:`corpus_stats` returns a JSON-ready dict; :func:`render_stats` turns it into rich tables.
With a knowledge base, gold ids are resolved with :meth:`KnowledgeBase.resolve` (which follows
alias and retired ids): an id is *covered* when it resolves, *mapped* when it resolves only
through an alias (its resolved concept has another id), *unmapped* when it does not resolve.
A mention is covered when all its gold ids are (composite mentions need every part).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.table import Table

from ..corpora.mention import Mention

if TYPE_CHECKING:
    from ..kb.model import KnowledgeBase

__all__ = ["corpus_stats", "render_stats"]

NO_SPLIT = "(none)"


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _split_stats(mentions: list[Mention]) -> dict[str, Any]:
    return {
        "documents": len({m.doc_id for m in mentions}),
        "mentions": len(mentions),
        "concepts": len({g for m in mentions for g in m.gold_ids}),
        "unlinkable_mentions": sum(1 for m in mentions if not m.gold_ids),
        "composite_mentions": sum(1 for m in mentions if len(m.gold_ids) > 1),
    }


def _unseen_in_train(by_split: dict[str, list[Mention]]) -> dict[str, dict[str, Any]]:
    """Per non-train split: mentions / concepts whose gold ids never occur in train (zero-shot share)."""
    if "train" not in by_split:
        return {}
    train_ids = {g for m in by_split["train"] for g in m.gold_ids}
    out = {}
    for split, mentions in by_split.items():
        if split in ("train", NO_SPLIT):
            continue
        linkable = [m for m in mentions if m.gold_ids]
        unseen = [m for m in linkable if not train_ids.issuperset(m.gold_ids)]
        concepts = {g for m in linkable for g in m.gold_ids}
        unseen_concepts = concepts - train_ids
        out[split] = {
            "mentions": len(unseen),
            "mention_share": _share(len(unseen), len(linkable)),
            "concepts": len(unseen_concepts),
            "concept_share": _share(len(unseen_concepts), len(concepts)),
        }
    return out


def _type_stats(mentions: list[Mention], top: int) -> dict[str, Any]:
    from ..kb.semantic_types import load_semantic_network

    network = load_semantic_network()
    by_mentions: Counter = Counter()
    concepts_of_type: dict[str, set[str]] = defaultdict(set)
    groups: Counter = Counter()
    for mention in mentions:
        by_mentions.update(mention.types)
        for tui in mention.types:
            concepts_of_type[tui].update(mention.gold_ids)
        groups.update(network.groups_of(mention.types))
    rows = [
        [tui, network.type_name(tui), count, len(concepts_of_type[tui])] for tui, count in by_mentions.most_common(top)
    ]
    return {
        "distinct_types": len(by_mentions),
        "untyped_mentions": sum(1 for m in mentions if not m.types),
        "top_types": rows,
        "groups": [[group, network.group_names.get(group, group), count] for group, count in groups.most_common()],
    }


def _kb_stats(mentions: list[Mention], kb: KnowledgeBase, top: int) -> dict[str, Any]:
    id_counts = Counter(g for m in mentions for g in m.gold_ids)
    resolved: dict[str, int | None] = {cid: kb.resolve(cid) for cid in id_counts}
    concept_ids = kb.concept_ids
    from ..kb.dictionary import id_variants

    mapped = {  # another concept (a retired CUI, an alternative id); not the same id with its namespace
        cid: concept_ids[i]
        for cid, i in resolved.items()
        if i is not None and concept_ids[i] != cid and cid not in id_variants(concept_ids[i])
    }
    unmapped = Counter({cid: n for cid, n in id_counts.items() if resolved[cid] is None})
    linkable = [m for m in mentions if m.gold_ids]
    covered = sum(1 for m in linkable if all(resolved[g] is not None for g in m.gold_ids))
    covered_ids = sum(1 for i in resolved.values() if i is not None)
    return {
        "kb_concepts": kb.n_concepts,
        "linkable_mentions": len(linkable),
        "mentions_covered": covered,
        "mention_coverage": _share(covered, len(linkable)),
        "gold_concepts": len(id_counts),
        "concepts_covered": covered_ids,
        "concept_coverage": _share(covered_ids, len(id_counts)),
        "mapped_ids": len(mapped),
        "mapped_mentions": sum(1 for m in linkable if any(g in mapped for g in m.gold_ids)),
        "mapped_examples": [[cid, target] for cid, target in list(mapped.items())[:top]],
        "unmapped_ids": len(unmapped),
        "unmapped_mentions": len(linkable) - covered,
        "unmapped_examples": [[cid, n] for cid, n in unmapped.most_common(top)],
    }


def corpus_stats(mentions: Iterable[Mention], kb: KnowledgeBase | None = None, top: int = 10) -> dict[str, Any]:
    """Statistics of a list of mentions, optionally with KB coverage of their gold ids.

    Returns a JSON-serialisable dict with ``documents``, ``mentions``, ``concepts``,
    ``unlinkable_mentions``, ``composite_mentions``, ``id_prefixes`` (e.g. ``{"OMIM": 381}``: ids
    with a ``PREFIX:``; check ``corpus.id_prefix`` when coverage is low), ``splits`` (the same
    counts per split, ``"(none)"`` for mentions without a split), ``unseen_in_train`` (per
    non-train split, gold concepts never seen in train), ``types`` (top ``top`` semantic types by
    mentions, with concept counts, and semantic groups) and, with ``kb``, ``kb`` coverage.
    """
    mentions = list(mentions)
    by_split: dict[str, list[Mention]] = defaultdict(list)
    for mention in mentions:
        by_split[mention.split or NO_SPLIT].append(mention)
    prefixes = Counter(g.split(":", 1)[0] for m in mentions for g in m.gold_ids if ":" in g)
    stats: dict[str, Any] = _split_stats(mentions)
    stats["id_prefixes"] = dict(prefixes.most_common())
    stats["splits"] = {split: _split_stats(group) for split, group in sorted(by_split.items(), key=_split_order)}
    stats["unseen_in_train"] = _unseen_in_train(by_split)
    stats["types"] = _type_stats(mentions, top)
    if kb is not None:
        stats["kb"] = _kb_stats(mentions, kb, top)
    return stats


def _split_order(item: tuple[str, Any]) -> tuple[int, str]:
    order = {"train": 0, "dev": 1, "validation": 1, "test": 2, NO_SPLIT: 4}
    return order.get(item[0], 3), item[0]


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def render_stats(stats: dict[str, Any]) -> list[Table]:
    """Rich tables for :func:`corpus_stats` output: corpus, splits, semantic types, KB coverage."""
    overview = Table(title="Corpus", show_header=False)
    overview.add_column("metric")
    overview.add_column("value", justify="right")
    for key in ("documents", "mentions", "concepts", "unlinkable_mentions", "composite_mentions"):
        overview.add_row(key.replace("_", " "), f"{stats[key]:,}")
    overview.add_row("untyped mentions", f"{stats['types']['untyped_mentions']:,}")
    if stats["id_prefixes"]:
        overview.add_row("id prefixes", ", ".join(f"{p}: {n:,}" for p, n in stats["id_prefixes"].items()))
    tables = [overview]

    splits = Table(title="Splits")
    for column in ("split", "documents", "mentions", "concepts", "unlinkable", "composite", "unseen in train"):
        splits.add_column(column, justify="left" if column == "split" else "right")
    for split, row in stats["splits"].items():
        unseen = stats["unseen_in_train"].get(split)
        splits.add_row(
            split,
            f"{row['documents']:,}",
            f"{row['mentions']:,}",
            f"{row['concepts']:,}",
            f"{row['unlinkable_mentions']:,}",
            f"{row['composite_mentions']:,}",
            f"{unseen['mentions']:,} ({_percent(unseen['mention_share'])})" if unseen else "",
        )
    tables.append(splits)

    if stats["types"]["top_types"]:
        types = Table(title=f"Top semantic types ({stats['types']['distinct_types']} in all)")
        for column in ("type", "name", "mentions", "concepts"):
            types.add_column(column, justify="right" if column in ("mentions", "concepts") else "left")
        for tui, name, n_mentions, n_concepts in stats["types"]["top_types"]:
            types.add_row(tui, name if name != tui else "", f"{n_mentions:,}", f"{n_concepts:,}")
        tables.append(types)

    if "kb" in stats:
        kb = stats["kb"]
        coverage = Table(title=f"Knowledge-base coverage ({kb['kb_concepts']:,} concepts)", show_header=False)
        coverage.add_column("metric")
        coverage.add_column("value", justify="right")
        coverage.add_row(
            "mentions covered",
            f"{kb['mentions_covered']:,} / {kb['linkable_mentions']:,} ({_percent(kb['mention_coverage'])})",
        )
        coverage.add_row(
            "gold concepts covered",
            f"{kb['concepts_covered']:,} / {kb['gold_concepts']:,} ({_percent(kb['concept_coverage'])})",
        )
        coverage.add_row("ids mapped through an alias", f"{kb['mapped_ids']:,} ({kb['mapped_mentions']:,} mentions)")
        coverage.add_row("ids not in the KB", f"{kb['unmapped_ids']:,} ({kb['unmapped_mentions']:,} mentions)")
        if kb["unmapped_examples"]:
            coverage.add_row(
                "most frequent missing ids", ", ".join(f"{cid} ({n})" for cid, n in kb["unmapped_examples"][:5])
            )
        tables.append(coverage)
    return tables
