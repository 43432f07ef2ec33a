"""``xenc build-kb``: a knowledge base from an annotated corpus's training mentions."""

from __future__ import annotations

from typing import Any

from ..config import BuildKbConfig
from ..errors import ConfigError
from ..utils.progress import log
from .inputs import by_split, load_corpus

EVALUATION_SPLITS = frozenset({"dev", "validation", "test"})


def build_kb(cfg: BuildKbConfig) -> dict[str, Any]:
    """Build the KB of ``cfg.splits``' mentions and save it to ``cfg.output_dir``; returns its summary."""
    from ..kb.from_corpus import kb_from_mentions

    evaluation = sorted(EVALUATION_SPLITS & set(cfg.splits))
    if evaluation:
        raise ConfigError(
            f"build-kb: splits {', '.join(evaluation)} are evaluation splits; a KB built from their mentions "
            "would contain every evaluation string (use --splits train)"
        )
    grouped = by_split(load_corpus(cfg.corpus, "build-kb"), cfg.splits)
    mentions = [m for split in cfg.splits for m in grouped[split]]
    source = (
        f"corpus {cfg.corpus.path or ', '.join(map(str, cfg.corpus.files.values()))} ({', '.join(cfg.splits)} mentions)"
    )
    kb = kb_from_mentions(mentions, source=source)
    composite = sum(1 for m in mentions if len(m.gold_ids) > 1)
    unlinked = sum(1 for m in mentions if not m.gold_ids)
    kb.save(cfg.output_dir)
    log(
        f"KB of {kb.n_concepts:,} concepts / {kb.n_names:,} names from {len(mentions):,} mentions written to "
        f"{cfg.output_dir} (skipped: {composite:,} composite, {unlinked:,} without a concept id)"
    )
    return {
        "output_dir": str(cfg.output_dir),
        "mentions": len(mentions),
        "skipped_composite": composite,
        "skipped_without_id": unlinked,
        **kb.summary(),
    }
