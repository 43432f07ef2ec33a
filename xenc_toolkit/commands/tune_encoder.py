"""``xenc tune-encoder``: fine-tune the bi-encoder on the KB's synonyms (and training mentions)."""

from __future__ import annotations

from typing import Any

from ..config import TuneEncoderConfig, dump_config
from .inputs import by_split, filtered_kb, load_corpus


def tune_encoder(cfg: TuneEncoderConfig) -> dict[str, Any]:
    """Fine-tune the bi-encoder on the KB's synonyms (and training mentions); writes ``cfg.output_dir``.

    Returns the tuning summary (pairs, steps, in-batch loss before and after). Build the index
    with the result: ``BuildIndexConfig(encoder=EncoderConfig(model=str(cfg.output_dir)), ...)``.
    """
    from ..training.encoder_tuning import tune_encoder as _tune_encoder

    kb = filtered_kb(cfg.kb, "tune-encoder")
    mentions = None
    if cfg.tuning.use_mentions:
        splits = cfg.tuning.mention_splits
        grouped = by_split(load_corpus(cfg.corpus, "tune-encoder (tuning.use_mentions)"), splits)
        mentions = [m for split in splits for m in grouped[split]]
    return _tune_encoder(
        kb,
        cfg.base_model,
        cfg.output_dir,
        cfg.tuning,
        mentions,
        pooling=cfg.pooling,
        max_length=cfg.max_length,
        revision=cfg.revision,
        device=cfg.device,
        seed=cfg.seed,
        run_config=dump_config(cfg),
    )
