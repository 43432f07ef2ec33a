"""``xenc stats``: corpus and KB statistics (mentions, concepts, KB coverage of the gold CUIs)."""

from __future__ import annotations

from typing import Any

from ..config import StatsConfig
from ..utils.io import atomic_write_json
from .inputs import load_corpus, load_kb


def stats(cfg: StatsConfig) -> dict[str, Any]:
    from ..evaluation import corpus_stats
    from ..retrieval import DenseIndex

    mentions = load_corpus(cfg.corpus, "stats")
    kb = None
    if cfg.index_dir is not None:
        kb = DenseIndex.load(cfg.index_dir).kb
    elif cfg.kb.path is not None:
        kb = load_kb(cfg.kb, "stats")
    result = corpus_stats(mentions, kb)
    if kb is not None:
        result["kb_summary"] = kb.summary()
    if cfg.output is not None:
        atomic_write_json(cfg.output, result)
    return result
