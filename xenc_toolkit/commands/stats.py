"""``xenc stats``: corpus and KB statistics (mentions, concepts, KB coverage of the gold CUIs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import StatsConfig
from ..utils.io import atomic_write_json
from ..utils.progress import log
from .inputs import load_corpus, load_kb


def stats(cfg: StatsConfig) -> dict[str, Any]:
    from ..evaluation import corpus_stats
    from ..retrieval import DenseIndex

    mentions = load_corpus(cfg.corpus, "stats")
    kb = None
    built = cfg.index_dir is not None and (Path(cfg.index_dir) / "manifest.json").exists()
    if cfg.index_dir is not None and (built or cfg.kb.path is None):
        kb = DenseIndex.load(cfg.index_dir).kb
    elif cfg.kb.path is not None:  # also before build-index has made the index: the KB it will hold
        if cfg.index_dir is not None:
            log(f"{cfg.index_dir} holds no index yet: KB coverage against {cfg.kb.path}")
        kb = load_kb(cfg.kb, "stats")
    result = corpus_stats(mentions, kb)
    if kb is not None:
        result["kb_summary"] = kb.summary()
    if cfg.output is not None:
        atomic_write_json(cfg.output, result)
    return result
