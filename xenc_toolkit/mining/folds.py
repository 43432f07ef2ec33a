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
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from ..config import MineConfig
from ..corpora.mention import Mention
from ..errors import XencError
from ..kb.model import KnowledgeBase
from ..utils.progress import log
from .pairs import Miner, MiningResult


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
    cfg: MineConfig,
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
