"""Training lists from the KB's own synonyms (dictionary names as pseudo-mentions).

A few thousand annotated mentions cover a few hundred or thousand concepts; the KB knows many
more ways to say each concept. Synonym queries turn that knowledge into extra training lists:
a name of a concept that has other names becomes a query whose gold is that concept, and its
candidate list is retrieved against the KB **without that name** (and without the concept's
other spellings of it), so the gold can only be found, and the reranker only rewarded, through
a different synonym, as for a mention whose string the KB does not hold.

The queries are split into folds by concept; each fold is mined against the KB minus its own
query names, with a dense index built for that KB by the callable given (as in
:func:`~xenc_toolkit.mining.folds.mine_cross_fitted`). Only training lists come from here:
never mix synonym queries into evaluation splits.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from ..corpora.mention import Mention
from ..errors import XencError
from ..kb.model import KnowledgeBase
from ..kb.normalize import normalize_name
from ..utils.progress import log
from .folds import merge_split_reports
from .pairs import Miner, MiningResult, MiningSettings

SYNONYM_DOC_PREFIX = "kb-synonyms"


def synonym_queries(
    kb: KnowledgeBase,
    per_concept: int = 1,
    max_queries: int | None = None,
    seed: int = 0,
    concepts: Sequence[int] | None = None,
    dictionary_only: bool = True,
) -> list[Mention]:
    """Up to ``per_concept`` names of each concept with at least two distinct names, as mentions.

    Names are distinct by :func:`~xenc_toolkit.kb.normalize.normalize_name` (spelling variants of
    one string count once); a query name is drawn at random (``seed``) among them, and a concept
    keeps at least one name the query does not match. ``concepts`` limits the draw to those
    concept indices; ``max_queries`` caps the total (a random sample of concepts). With
    ``dictionary_only`` (default), only dictionary names are drawn as queries, never the strings
    training mentions added to the KB (:attr:`KnowledgeBase.name_mentions` > 0: those mentions are
    training lists already); they still count as the concept's other names. Each query's
    ``doc_id`` is ``"kb-synonyms"``, its ``mention_id`` ``"kb-synonyms:<concept id>:<name row>"``
    and ``extra["name_row"]`` the KB row of its name.
    """
    if per_concept < 1:
        raise XencError(f"synonym queries: per_concept must be at least 1, got {per_concept}")
    rng = random.Random(seed)
    groups: dict[int, dict[str, list[int]]] = defaultdict(dict)
    drawable: dict[int, dict[str, int]] = defaultdict(dict)  # key -> the first row that may be a query
    allowed = None if concepts is None else set(int(c) for c in concepts)
    from_mentions = kb.name_mentions > 0
    for row, (name, concept) in enumerate(zip(kb.name_list, kb.name_concept.tolist(), strict=True)):
        if allowed is not None and concept not in allowed:
            continue
        key = normalize_name(name)
        if key:
            groups[concept].setdefault(key, []).append(row)
            if not (dictionary_only and from_mentions[row]):
                drawable[concept].setdefault(key, row)
    eligible = sorted(c for c, keys in groups.items() if len(keys) >= 2 and drawable[c])
    if max_queries is not None and len(eligible) * per_concept > max_queries:
        eligible = sorted(rng.sample(eligible, max(1, max_queries // per_concept)))
    ids, names = kb.concept_ids, kb.name_list
    queries = []
    for concept in eligible:
        keys = sorted(drawable[concept])
        for key in rng.sample(keys, min(per_concept, len(keys), len(groups[concept]) - 1)):
            row = drawable[concept][key]
            queries.append(
                Mention(
                    mention_id=f"{SYNONYM_DOC_PREFIX}:{ids[concept]}:{row}",
                    doc_id=SYNONYM_DOC_PREFIX,
                    text=names[row],
                    gold_ids=(ids[concept],),
                    split="train",
                    source="KB synonyms",
                    extra={"name_row": row},
                )
            )
    return queries


def without_query_names(kb: KnowledgeBase, queries: Sequence[Mention]) -> KnowledgeBase:
    """``kb`` without each query's name under its gold concept (every spelling of it); concepts unchanged.

    Concept indices stay the same, so lists mined against the result resolve like the full KB's.
    The same string under *another* concept stays (it is a real ambiguity, not the answer).
    """
    drop: dict[int, set[str]] = defaultdict(set)
    for query in queries:
        concept = kb.resolve(query.gold_ids[0]) if query.gold_ids else None
        if concept is None:
            raise XencError(f"synonym query {query.mention_id}: gold {query.gold_ids} is not in the KB")
        drop[concept].add(normalize_name(query.text))
    keep = np.fromiter(
        (
            normalize_name(name) not in drop[concept] if concept in drop else True
            for name, concept in zip(kb.name_list, kb.name_concept.tolist(), strict=True)
        ),
        dtype=bool,
        count=kb.n_names,
    )
    rows = pa.array(np.nonzero(keep)[0])
    return kb.with_names(kb.names.take(rows), synonym_queries_removed=int((~keep).sum()))


def mine_synonym_queries(
    kb: KnowledgeBase,
    build_index: Callable[[KnowledgeBase, str], Any] | None,
    queries: Sequence[Mention],
    cfg: MiningSettings,
    n_folds: int = 4,
) -> MiningResult:
    """Training lists and pairs of synonym queries, each fold mined against the KB without its query names.

    Args:
        kb: the KB the queries came from (:func:`synonym_queries`).
        build_index: ``(kb, tag) -> DenseIndex`` (tags ``"synonyms0"``...) for dense and fusion
            candidates, or None for TF-IDF candidates.
        queries: the synonym queries.
        cfg: the mining configuration of the real training mentions (same negatives and format).
        n_folds: folds of concepts; more folds hide fewer names per KB but build more indexes.

    Returns:
        A result with one ``train`` split (pairs and candidate lists), to be concatenated with the
        training mentions' (:func:`merge_training_results`).
    """
    from datasets import DatasetDict, concatenate_datasets

    if not queries:
        raise XencError("no synonym queries to mine (no concept has two distinct names)")
    n_folds = max(1, min(n_folds, len(queries)))
    folds: list[list[Mention]] = [[] for _ in range(n_folds)]
    order = sorted({q.gold_ids[0] for q in queries})
    random.Random(cfg.seed).shuffle(order)
    fold_of = {cid: i % n_folds for i, cid in enumerate(order)}
    for query in queries:
        folds[fold_of[query.gold_ids[0]]].append(query)
    results = []
    for f, fold in enumerate(folds):
        fold_kb = without_query_names(kb, fold)
        log(f"synonym queries: fold {f + 1}/{n_folds}, {len(fold):,} queries against {fold_kb.n_names:,} names")
        index = build_index(fold_kb, f"synonyms{f}") if build_index is not None else None
        results.append(Miner(fold_kb, cfg, dense_index=index).mine({"train": fold}))
        del index  # this fold's embeddings go before the next fold's are built
    report = {"splits": {"train": merge_split_reports([r.report["splits"]["train"] for r in results])}}
    report["synonym_queries"] = {"queries": len(queries), "folds": n_folds}
    return MiningResult(
        DatasetDict({"train": concatenate_datasets([r.pairs["train"] for r in results])}),
        DatasetDict({"train": concatenate_datasets([r.candidates["train"] for r in results])}),
        report,
        results[0].input_format,
    )


def merge_training_results(result: MiningResult, synonyms: MiningResult) -> MiningResult:
    """``result`` with the synonym queries' lists and pairs appended to its ``train`` split.

    The report keeps the mentions' train figures as they were and adds the synonym queries'
    under ``splits.train.synonym_queries`` (recall of synonym queries is not mention recall).
    """
    from datasets import DatasetDict, concatenate_datasets

    pairs = dict(result.pairs)
    lists = dict(result.candidates)
    pairs["train"] = concatenate_datasets([result.pairs["train"], synonyms.pairs["train"]])
    lists["train"] = concatenate_datasets([result.candidates["train"], synonyms.candidates["train"]])
    report = dict(result.report)
    report["splits"] = dict(report["splits"])
    report["splits"]["train"] = {
        **report["splits"]["train"],
        "synonym_queries": {**synonyms.report["splits"]["train"], **synonyms.report["synonym_queries"]},
    }
    return MiningResult(DatasetDict(pairs), DatasetDict(lists), report, result.input_format)
