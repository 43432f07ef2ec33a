"""``xenc build-index``: load the KB, embed every name and write the index directory."""

from __future__ import annotations

from ..config import BuildIndexConfig, dump_config
from ..errors import ConfigError
from ..utils import distributed
from ..utils.progress import log
from .inputs import by_split, corpus_checksum, filtered_kb, load_corpus


def build_index(cfg: BuildIndexConfig):
    """Load the KB, embed every name and write the index directory. Returns the DenseIndex.

    Under ``torchrun --nproc_per_node N`` each process embeds a contiguous shard of the names on its
    own device and rank 0 writes the index (the same as one process's); the other ranks return None.
    """
    from ..kb.from_corpus import add_mention_names
    from ..retrieval import DenseIndex

    kb = filtered_kb(cfg.kb, "build-index")
    provenance = {"config": dump_config(cfg)}
    if cfg.add_training_mentions:
        mentions = by_split(load_corpus(cfg.corpus, "build-index (add_training_mentions)"), ["train"])["train"]
        kb, added = add_mention_names(kb, mentions)
        provenance["corpus"] = corpus_checksum(cfg.corpus)  # mine checks it is mined with this corpus
        log(f"added {added:,} training-mention names to the KB (add_training_mentions)")
    if distributed.is_sharded():
        return _build_sharded(cfg, kb, provenance)
    return DenseIndex.build(kb, cfg.encoder, cfg.index, output_dir=cfg.output_dir, seed=cfg.seed, provenance=provenance)


def _build_sharded(cfg: BuildIndexConfig, kb, provenance: dict):
    """One process of a torchrun launch: embed this rank's names; rank 0 gathers them and builds the index."""
    import numpy as np

    from ..retrieval import DenseIndex
    from ..retrieval.dense_index import name_encoder

    if cfg.encoder.devices:
        raise ConfigError(
            "build-index: encoder.devices and a torchrun launch both spread the names over devices; use one of them"
        )
    encoder_cfg = cfg.encoder.model_copy(update={"device": distributed.process_device(cfg.encoder.device)})
    with distributed.process_group():
        encoder = name_encoder(encoder_cfg)
        log(
            f"embedding {kb.n_names:,} names of {kb.n_concepts:,} concepts with {encoder_cfg.model} "
            f"in {distributed.world_size()} processes"
        )
        embeddings = distributed.map_shards(
            lambda names: encoder.encode(names, batch_size=encoder_cfg.batch_size, description="embedding KB names"),
            kb.name_list,
            merge=np.concatenate,
        )
        if embeddings is None:  # not rank 0: rank 0 writes the index
            return None
        return DenseIndex.build(
            kb,
            encoder_cfg,
            cfg.index,
            output_dir=cfg.output_dir,
            encoder=encoder,
            embeddings=embeddings,
            seed=cfg.seed,
            provenance=provenance,
        )
