"""``xenc build-index``: load the KB, embed every name and write the index directory."""

from __future__ import annotations

from ..config import BuildIndexConfig, dump_config
from ..utils.progress import log
from .inputs import by_split, corpus_checksum, filtered_kb, load_corpus


def build_index(cfg: BuildIndexConfig):
    """Load the KB, embed every name and write the index directory. Returns the DenseIndex."""
    from ..kb.from_corpus import add_mention_names
    from ..retrieval import DenseIndex

    kb = filtered_kb(cfg.kb, "build-index")
    provenance = {"config": dump_config(cfg)}
    if cfg.add_training_mentions:
        mentions = by_split(load_corpus(cfg.corpus, "build-index (add_training_mentions)"), ["train"])["train"]
        kb, added = add_mention_names(kb, mentions)
        provenance["corpus"] = corpus_checksum(cfg.corpus)  # mine checks it is mined with this corpus
        log(f"added {added:,} training-mention names to the KB (add_training_mentions)")
    return DenseIndex.build(kb, cfg.encoder, cfg.index, output_dir=cfg.output_dir, seed=cfg.seed, provenance=provenance)
