"""Cross-fitted mining for KBs that hold the training mentions' own strings.

When the KB carries the training mentions' surface forms (MEDIC + ``add_training_mentions``, or
a KB built from the training corpus as in MedMentions), every training mention finds its own
string in the KB: its candidate list is an exact match plus easy negatives, and a reranker
trained on such lists learns little that helps on new text, whose strings are often not in the
KB. Cross-fitting gives training lists the evaluation-time view: the training documents are
split into folds, and each fold's mentions are mined against the KB built from the *other*
folds' mentions (names any fold contributes stay visible only to the other folds). Evaluation
splits are mined against the KB built from all training mentions, as before.

Each fold needs its own KB and dense index, built by the callables given; the results are
merged into one :class:`~xenc_toolkit.mining.pairs.MiningResult`.

``xenc mine --cross-fit-folds N`` (:func:`mine_index_cross_fitted`) has only the saved index,
whose KB already holds every training mention's string: each fold's KB is that KB without the
fold's own contribution (:func:`kb_without_mentions`, from the names table's ``mentions`` and
``dictionary`` columns).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..corpora.mention import Mention
from ..errors import XencError
from ..kb.model import KnowledgeBase
from ..utils.progress import log
from .pairs import Miner, MiningResult, MiningSettings


def document_folds(mentions: Sequence[Mention], n_folds: int, seed: int = 0) -> list[list[Mention]]:
    """Split mentions into ``n_folds`` groups of whole documents (shuffled with ``seed``), mention order kept."""
    if n_folds < 2:
        raise XencError(f"cross-fitted mining needs at least 2 folds, got {n_folds}")
    docs = list(dict.fromkeys(m.doc_id for m in mentions))
    if len(docs) < n_folds:
        raise XencError(f"cross-fitted mining: {len(docs)} training documents cannot fill {n_folds} folds")
    random.Random(seed).shuffle(docs)
    fold_of = {doc: i % n_folds for i, doc in enumerate(docs)}
    folds: list[list[Mention]] = [[] for _ in range(n_folds)]
    for mention in mentions:
        folds[fold_of[mention.doc_id]].append(mention)
    return folds


def mine_cross_fitted(
    build_kb: Callable[[Sequence[Mention]], KnowledgeBase],
    build_index: Callable[[KnowledgeBase, str], Any] | None,
    train_mentions: Sequence[Mention],
    other_splits: dict[str, Sequence[Mention]],
    cfg: MiningSettings,
    n_folds: int = 4,
) -> tuple[MiningResult, KnowledgeBase, Any]:
    """Mine ``train`` fold by fold against KBs without the fold's own strings; other splits against the full KB.

    Args:
        build_kb: training mentions -> KB (e.g. ``lambda ms: add_mention_names(medic, ms)[0]`` or
            ``lambda ms: kb_from_mentions(ms, types)``); never given evaluation mentions.
        build_index: ``(kb, tag) -> DenseIndex`` for the dense and fusion generators (``tag`` is
            ``"fold0"``..., ``"all"``), or None for TF-IDF candidates.
        train_mentions: the training mentions, split by document into ``n_folds`` folds (``cfg.seed``).
        other_splits: e.g. ``{"validation": ..., "dev": ...}``, mined against ``build_kb(train_mentions)``.

    Returns:
        The merged result (``train`` lists and pairs from all folds; the report's train split sums
        the folds' counts and keeps each fold's report), the full KB and its index.
    """
    from datasets import DatasetDict, concatenate_datasets

    folds = document_folds(train_mentions, n_folds, cfg.seed)
    fold_results = []
    for f, fold in enumerate(folds):
        rest = [m for g, other in enumerate(folds) if g != f for m in other]
        kb = build_kb(rest)
        log(f"cross-fitted mining: fold {f + 1}/{n_folds}, {len(fold):,} mentions against {kb.n_names:,} names")
        index = build_index(kb, f"fold{f}") if build_index is not None else None
        fold_results.append(Miner(kb, cfg, dense_index=index).mine({"train": fold}))
    kb = build_kb(train_mentions)
    index = build_index(kb, "all") if build_index is not None else None
    other = {k: v for k, v in other_splits.items() if v}
    result = Miner(kb, cfg, dense_index=index).mine(other) if other else None
    pairs = {"train": concatenate_datasets([r.pairs["train"] for r in fold_results])}
    lists = {"train": concatenate_datasets([r.candidates["train"] for r in fold_results])}
    report: dict[str, Any] = {"splits": {}}
    if result is not None:
        pairs.update(result.pairs)
        lists.update(result.candidates)
        report = dict(result.report)
        report["splits"] = dict(result.report["splits"])
    report["splits"]["train"] = merge_split_reports([r.report["splits"]["train"] for r in fold_results])
    report["cross_fitted"] = {"folds": n_folds, "fold_mentions": [len(f) for f in folds]}
    report.setdefault("kb", {"concepts": kb.n_concepts, "names": kb.n_names, "checksum": kb.checksum})
    fmt = fold_results[0].input_format
    return MiningResult(DatasetDict(pairs), DatasetDict(lists), report, fmt), kb, index


def merge_split_reports(reports: list[dict]) -> dict:
    """Counts summed, recalls weighted by mentions; each fold's own report under ``folds``."""
    total = sum(r["mentions"] for r in reports)
    merged: dict[str, Any] = {
        "mentions": total,
        "unlinkable": sum(r["unlinkable"] for r in reports),
        "gold_not_in_kb": sum(r["gold_not_in_kb"] for r in reports),
        "gold_without_names": sum(r.get("gold_without_names", 0) for r in reports),
        "candidate_depth": reports[0]["candidate_depth"],
        "recall": {},
        "pairs": {},
        "pairs_total": sum(r["pairs_total"] for r in reports),
    }
    for generator in reports[0]["recall"]:
        merged["recall"][generator] = {
            key: round(sum(r["recall"][generator][key] * r["mentions"] for r in reports) / max(1, total), 4)
            for key in reports[0]["recall"][generator]
        }
    for r in reports:
        for kind, n in r["pairs"].items():
            merged["pairs"][kind] = merged["pairs"].get(kind, 0) + n
    merged["folds"] = reports
    return merged


# --------------------------------------------------------------------------- a KB without a fold's mentions
NO_MENTION_COUNTS = (
    "cross-fitting needs a KB that carries training-mention names: build-index with add_training_mentions, "
    "or a KB built from a corpus"
)


def kb_without_mentions(kb: KnowledgeBase, mentions: Sequence[Mention]) -> KnowledgeBase:
    """``kb`` without what ``mentions`` contributed to it: their strings' counts, and the names only they carried.

    Each single-gold mention takes one off the ``mentions`` count of its (gold concept,
    ``surface_text``) row (clipped at 0); rows left at 0 that are not dictionary names
    (:attr:`KnowledgeBase.name_in_dictionary`) are dropped, the others keep their remaining count
    (the tie-breaking prior then knows only the other mentions). Dictionary names always stay,
    also when ``mentions`` carried them. Concepts (and so concept indices) are unchanged; a concept that
    only ``mentions`` named is left without names (``concepts_without_names``): mining treats its
    mentions as gold-not-in-KB (``gold_without_names``) and never draws it as a negative. Strings
    not found under their gold (or golds not in the KB) are counted in the metadata
    (``held_out_mentions``) and logged, not an error.

    Raises:
        XencError: ``kb`` has no ``mentions`` column (nothing tells which names mentions added).
    """
    if "mentions" not in kb.names.column_names:
        raise XencError(f"{NO_MENTION_COUNTS} (this KB has no training-mention counts)")
    wanted: Counter = Counter()
    gold_not_in_kb = 0
    for mention in mentions:
        if len(mention.gold_ids) != 1:
            continue
        concept = kb.resolve(mention.gold_ids[0])
        if concept is None:
            gold_not_in_kb += 1
        else:
            wanted[concept, mention.surface_text] += 1
    counts = kb.name_mentions.astype(np.int64)
    rows = np.flatnonzero(
        pc.is_in(kb.names.column("name"), value_set=pa.array(sorted({s for _, s in wanted}), pa.string()))
        .fill_null(False)
        .to_numpy(zero_copy_only=False)
    )
    concepts, names = kb.name_concept, kb.names.column("name").take(pa.array(rows, pa.int64())).to_pylist()
    found: set[tuple[int, str]] = set()
    over = 0
    for row, name in zip(rows.tolist(), names, strict=True):
        key = (int(concepts[row]), name)
        n = wanted.get(key)
        if n and key not in found:  # the first row of a (concept, name) pair, as add_mention_names counted it
            found.add(key)
            over += max(0, n - int(counts[row]))
            counts[row] = max(0, counts[row] - n)
    not_found = sum(n for key, n in wanted.items() if key not in found)
    keep = (counts > 0) | kb.name_in_dictionary
    kept = np.flatnonzero(keep)
    table = kb.names.take(pa.array(kept, pa.int64()))
    table = table.set_column(table.column_names.index("mentions"), "mentions", pa.array(counts[kept], pa.int32()))
    left = np.bincount(kb.name_concept[kept], minlength=kb.n_concepts) > 0
    stats = {
        "mentions": len(mentions),
        "names_removed": int(kb.n_names - len(kept)),
        # concepts named only by these mentions: no name is left, so they are no candidates in this fold
        "concepts_without_names": int((kb.concept_has_names & ~left).sum()),
        "strings_not_found": not_found,
        "counts_clipped": over,
        "gold_not_in_kb": gold_not_in_kb,
    }
    if not_found or over:
        log(
            f"cross-fitting: {not_found:,} held-out mention strings are not names of their gold in the KB and "
            f"{over:,} exceed their names' mention counts (the index was built from other training mentions?)",
            style="yellow",
        )
    return kb.with_names(table, held_out_mentions=stats)
