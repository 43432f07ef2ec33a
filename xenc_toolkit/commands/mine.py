"""``xenc mine``: candidates and positive/negative pairs for each split, optionally cross-fitted and with
KB synonym queries.

With ``cfg.synonym_queries.per_concept`` > 0 and a ``train`` split, the train split also gets lists
of KB synonyms mined without their own names (:mod:`xenc_toolkit.mining.synonyms`), against per-fold
indexes built in memory with the index's encoder. With ``cfg.cross_fit_folds`` >= 2 and a ``train``
split, training mentions are mined fold by fold against the KB without the fold's own strings
(:mod:`xenc_toolkit.mining.folds`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from ..config import AUTO_CROSS_FIT_FOLDS, MineConfig, dump_config
from ..corpora.mention import Mention
from ..errors import XencError
from ..kb.model import KnowledgeBase
from ..mining.folds import NO_MENTION_COUNTS, document_folds, kb_without_mentions, mine_cross_fitted
from ..mining.pairs import Miner, MiningResult, require_pairs, save_mining
from ..mining.synonyms import merge_training_results, mine_synonym_queries, synonym_queries
from ..retrieval import DenseIndex
from ..utils.progress import log
from .artefacts import check_corpus_matches_index, check_gold_ids_in_kb, pairs_provenance
from .inputs import by_split, load_corpus


def mine(cfg: MineConfig, index=None, mentions_by_split: dict | None = None) -> dict[str, Any]:
    """Candidates and pairs for the configured splits; writes ``cfg.output_dir``; returns the mining report."""
    index = index or DenseIndex.load(cfg.index_dir, allow_mismatch=cfg.allow_mismatch)
    if mentions_by_split is None:
        check_corpus_matches_index(cfg, index)
        mentions_by_split = by_split(load_corpus(cfg.corpus, "mine"), cfg.splits)
    check_gold_ids_in_kb(mentions_by_split, index, cfg)
    cfg = _resolve_cross_fit(cfg, index, mentions_by_split)
    queries = None
    if cfg.synonym_queries.per_concept > 0:
        if "train" in mentions_by_split:
            queries = draw_synonym_queries(index.kb, cfg)  # before mining: fails fast when no concept qualifies
        else:
            log("synonym queries skipped: they only extend the train split, which is not mined", style="yellow")
    if cfg.cross_fit_folds >= 2 and "train" in mentions_by_split:
        result = mine_index_cross_fitted(index, mentions_by_split, cfg)
    else:
        if cfg.cross_fit_folds >= 2:
            log("cross-fitting skipped: it only changes the train split, which is not mined", style="yellow")
        result = Miner(index.kb, cfg, dense_index=index).mine(mentions_by_split)
    if queries:
        result = add_synonym_queries(result, index, queries, cfg)
    require_pairs(result)  # zero pairs: a clear error here, not an IndexError in xenc train
    save_mining(
        result,
        cfg.output_dir,
        config=dump_config(cfg),
        index_manifest=index.manifest,
        provenance=pairs_provenance(cfg, index),
    )
    log(f"pairs written to {cfg.output_dir}")
    return result.report


def _resolve_cross_fit(cfg: MineConfig, index, mentions_by_split: dict) -> MineConfig:
    """``cross_fit_folds: auto``: AUTO_CROSS_FIT_FOLDS folds when the index's KB carries training-mention
    strings (each training list would otherwise find its own string: an exact match the evaluation
    mentions do not get) and the train split has enough documents for them; else off."""
    if cfg.cross_fit_folds != "auto":
        return cfg
    folds = 0
    names = index.kb.names
    train = list(mentions_by_split.get("train") or [])[: cfg.max_mentions]  # the folds split the capped split
    if "mentions" in names.column_names and train:
        carries = bool(pc.any(pc.greater(names.column("mentions"), 0)).as_py())
        documents = len({m.doc_id for m in train})
        if carries and documents >= AUTO_CROSS_FIT_FOLDS:
            folds = AUTO_CROSS_FIT_FOLDS
            log(
                f"cross-fitting the training lists in {folds} document folds: the index's KB carries "
                "training-mention strings (cross_fit_folds: auto; 0 turns it off)"
            )
    return cfg.model_copy(update={"cross_fit_folds": folds})


def mine_index_cross_fitted(index, mentions_by_split: dict[str, Sequence[Mention]], cfg: MineConfig) -> MiningResult:
    """``xenc mine`` with ``cfg.cross_fit_folds`` >= 2: :func:`~xenc_toolkit.mining.folds.mine_cross_fitted` against a loaded index.

    Fold ``f``'s training mentions are mined against ``index.kb`` without fold ``f``'s own mention
    strings (:func:`~xenc_toolkit.mining.folds.kb_without_mentions`), through an in-memory dense index of that KB built with
    ``index``'s own encoder (:func:`fold_index_builder`; none for
    TF-IDF). The other splits are mined against ``index`` itself, exactly as without cross-fitting.
    The report's ``cross_fitted`` also records what each fold's KB lost (``held_out``).

    Raises:
        XencError: the index's KB has no training-mention counts, or too few training documents.
    """
    full_kb = index.kb
    if "mentions" not in full_kb.names.column_names:
        raise XencError(
            f"{NO_MENTION_COUNTS}; the KB of index {cfg.index_dir} has no training-mention counts "
            "(set cross_fit_folds to 0, --cross-fit-folds 0, or rebuild the index)"
        )
    if "dictionary" not in full_kb.names.column_names:
        log(
            "cross-fitting: the index's KB does not say which names are dictionary names (built before that was "
            "recorded): every name stays, only the mention counts are reduced; rebuild the index",
            style="yellow",
        )
    train = list(mentions_by_split["train"])
    if cfg.max_mentions:
        train = train[: cfg.max_mentions]  # as a plain run caps it (each fold is then below the cap)
    document_folds(train, cfg.cross_fit_folds, cfg.seed)  # too few documents: fail before loading the encoder
    all_ids = {m.mention_id for m in train}
    held_out: list[dict] = []

    def build_kb(rest: Sequence[Mention]) -> KnowledgeBase:
        rest_ids = {m.mention_id for m in rest}
        if rest_ids >= all_ids:
            return full_kb  # the evaluation splits' KB: the index's own
        kb = kb_without_mentions(full_kb, [m for m in train if m.mention_id not in rest_ids])
        held_out.append(kb.metadata["held_out_mentions"])
        return kb

    build_fold_index = fold_index_builder(index, cfg)

    def build_index(kb: KnowledgeBase, tag: str):
        if tag == "all":
            return index
        return build_fold_index(kb, tag) if build_fold_index is not None else None

    other = {split: mentions for split, mentions in mentions_by_split.items() if split != "train"}
    result, _, _ = mine_cross_fitted(build_kb, build_index, train, other, cfg, n_folds=cfg.cross_fit_folds)
    result.report["cross_fitted"]["held_out"] = held_out
    nameless = sum(stats.get("concepts_without_names", 0) for stats in held_out)
    if nameless:
        train_report = result.report["splits"]["train"]
        log(
            f"cross-fitting: {nameless:,} concept(s) were named only by their own fold's mentions and had no name "
            f"left in that fold's KB; their {train_report.get('gold_without_names', 0):,} training mention(s) "
            "have no gold candidate there (counted as gold_without_names in the mining report)",
            style="yellow",
        )
    return result


def draw_synonym_queries(kb: KnowledgeBase, cfg: MineConfig) -> list[Mention]:
    """The synonym queries ``cfg.synonym_queries`` asks for (``seed`` = ``cfg.seed``).

    Raises:
        XencError: synonym queries are on (``per_concept`` > 0) but no concept of ``kb`` qualifies.
    """
    sq = cfg.synonym_queries
    queries = synonym_queries(
        kb, per_concept=sq.per_concept, max_queries=sq.max_queries, seed=cfg.seed, dictionary_only=sq.dictionary_only
    )
    if not queries:
        which = " (at least one of them a dictionary name)" if sq.dictionary_only else ""
        raise XencError(
            f"synonym_queries.per_concept is {sq.per_concept}, but no concept of the KB ({kb.n_concepts:,} concepts, "
            f"{kb.n_names:,} names) has two distinct names{which}: there are no synonym queries to draw; "
            "set synonym_queries.per_concept to 0 (--synonym-queries 0)"
        )
    return queries


def fold_index_builder(index, cfg: MineConfig) -> Callable | None:
    """The ``build_index`` of :func:`mine_synonym_queries` for an index loaded by ``xenc mine``.

    None for TF-IDF candidates. Otherwise each fold's KB is embedded with ``index``'s own encoder
    (the same model object: not reloaded; its pooling and max length are the manifest's) into an
    in-memory index of ``index``'s type and parameters (nothing is written: a fold's index is
    used once, and at UMLS scale it would be gigabytes on disk).
    """
    if cfg.candidates.generator == "tfidf":
        return None
    from ..retrieval import DenseIndex
    from ..settings import EncoderConfig, IndexConfig

    info, built = index.manifest["encoder"], index.manifest["index"]
    source = info.get("resolved_path") if info.get("resolved_path") and Path(info["resolved_path"]).exists() else None
    encoder_cfg = EncoderConfig(
        model=source or info["name"],
        revision=info.get("revision"),
        pooling=info["pooling"],
        max_length=info["max_length"],
    )
    index_cfg = IndexConfig(
        index_type=built["type"],
        nlist=built.get("nlist"),
        nprobe=built["nprobe"],
        hnsw_m=built["hnsw_m"],
        ef_search=built["ef_search"],
        ef_construction=built["ef_construction"],
    )
    encoder = index.encoder()  # the one mentions are embedded with (loaded once, shared with the folds)

    def build(kb: KnowledgeBase, tag: str):
        return DenseIndex.build(kb, encoder_cfg, index_cfg, output_dir=None, encoder=encoder, seed=cfg.seed)

    return build


def add_synonym_queries(result: MiningResult, index, queries: Sequence[Mention], cfg: MineConfig) -> MiningResult:
    """``result`` with the lists and pairs of ``queries`` appended to its ``train`` split.

    ``index`` is the dense index ``result`` was mined with (its KB, encoder and index settings;
    see :func:`fold_index_builder`); ``cfg.synonym_queries.folds`` folds.
    """
    build_index = fold_index_builder(index, cfg)
    synonyms = mine_synonym_queries(index.kb, build_index, queries, cfg, n_folds=cfg.synonym_queries.folds)
    merged = merge_training_results(result, synonyms)
    log(
        f"synonym queries: added {len(queries):,} training lists ({len(synonyms.pairs['train']):,} pairs) from "
        f"{len({q.gold_ids[0] for q in queries}):,} concepts to {len(result.candidates['train']):,} mention lists"
    )
    return merged
