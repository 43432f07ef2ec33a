"""The Python API: one function per ``xenc`` subcommand, each taking that command's config, and the
Stage-3 :class:`Linker`.

::

    from xenc_toolkit import api
    from xenc_toolkit.config import BuildIndexConfig, load_config

    cfg = load_config(BuildIndexConfig, "examples/configs/medmentions_umls.yaml", {"encoder.batch_size": 2048})
    api.build_index(cfg)

    linker = api.Linker.from_pretrained("xenc-output/model", "xenc-output/index")

The functions live in :mod:`xenc_toolkit.commands` (one module per command); the CLI calls the
same ones. Nothing is imported until it is used.

Beyond the commands, the pieces a caller composes or measures on its own (the benchmarks import
nothing else of the package), by stage:

* corpora: ``Mention``, ``read_pubtator``, ``read_bio``, ``write_jsonl``, ``load_types_file``,
  ``block_split``, ``expand_abbreviations``;
* knowledge base: ``KnowledgeBase``, ``load_kb``, ``load_medic``, ``kb_from_mentions``,
  ``add_mention_names``, ``load_semantic_network``, ``normalize_name``;
* retrieval: ``NameEncoder`` (and ``ResultSink``, where its batches land), ``DenseIndex``,
  ``TorchExactSearcher``, ``CandidateGenerator``, ``aggregate_to_concepts``;
* mining: ``Miner``, ``document_folds``, ``synonym_queries``, ``resolve_gold``, ``save_mining``, ``load_candidate_lists``;
* training: ``XencCrossEncoderTrainer``, ``pretokenize_pairs``, ``PretokenizedPairCollator``,
  ``WeightedBinaryCrossEntropyLoss``, ``is_main_process``, ``world_size``, the ``train`` command's
  ``build_model`` and ``prepare_datasets``, ``trainable_parameters`` (of the CPU estimate);
* reranking: ``PairScorer``, ``dedupe_pairs``, ``score_candidate_lists``, ``rerank_ranks``,
  ``fit_fusion_weight``, ``fuse_scores``;
* calibration and evaluation: ``Calibration``, ``linking_metrics``, ``calibration_errors``;
* linking: ``Linker``, ``LinkResult``;
* utilities: ``set_quiet`` (no progress output), ``atomic_write_json``.
"""

from __future__ import annotations

from .utils.lazy import lazy_exports

_EXPORTS = {
    # commands
    "build_kb": "commands.build_kb",
    "build_index": "commands.build_index",
    "tune_encoder": "commands.tune_encoder",
    "mine": "commands.mine",
    "train": "commands.train",
    "calibrate": "commands.calibrate",
    "evaluate": "commands.evaluate",
    "link": "commands.link",
    "stats": "commands.stats",
    "quickstart": "commands.quickstart",
    "quickstart_data": "commands.quickstart",
    "offline_model_path": "commands.quickstart",
    # corpora
    "Mention": "corpora.mention",
    "read_pubtator": "corpora.pubtator",
    "read_bio": "corpora.bio",
    "write_jsonl": "corpora.jsonl",
    "load_types_file": "corpora.loader",
    "block_split": "corpora.splits",
    "expand_abbreviations": "corpora.abbreviations",
    # knowledge base
    "KnowledgeBase": "kb.model",
    "load_kb": "kb.loader",
    "load_medic": "kb.dictionary",
    "kb_from_mentions": "kb.from_corpus",
    "add_mention_names": "kb.from_corpus",
    "load_semantic_network": "kb.semantic_types",
    "normalize_name": "kb.normalize",
    # retrieval
    "NameEncoder": "retrieval.encoder",
    "ResultSink": "retrieval.encoder",
    "DenseIndex": "retrieval.dense_index",
    "TorchExactSearcher": "retrieval.search",
    "CandidateGenerator": "retrieval.candidate_generator",
    "aggregate_to_concepts": "retrieval.candidates",
    # mining
    "Miner": "mining.pairs",
    "document_folds": "mining.folds",
    "synonym_queries": "mining.synonyms",
    "resolve_gold": "mining.pairs",
    "save_mining": "mining.pairs",
    "load_candidate_lists": "mining.pairs",
    # training
    "XencCrossEncoderTrainer": "training.trainer",
    "pretokenize_pairs": "training.data",
    "PretokenizedPairCollator": "training.data",
    "WeightedBinaryCrossEntropyLoss": "training.losses",
    "is_main_process": "training.distributed",
    "world_size": "training.distributed",
    "build_model": "commands.train",
    "prepare_datasets": "commands.train",
    "trainable_parameters": "training.cpu_estimate",
    # reranking
    "PairScorer": "reranker.scorer",
    "dedupe_pairs": "reranker.scorer",
    "score_candidate_lists": "reranker.scorer",
    "rerank_ranks": "reranker.ranking",
    "fit_fusion_weight": "reranker.score_fusion",
    "fuse_scores": "reranker.score_fusion",
    # calibration and evaluation
    "Calibration": "calibration.bundle",
    "linking_metrics": "evaluation.metrics",
    "calibration_errors": "evaluation.metrics",
    # linking
    "Linker": "linking.linker",
    "LinkResult": "linking.linker",
    # utilities
    "set_quiet": "utils.progress",
    "atomic_write_json": "utils.io",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, base="xenc_toolkit")
