"""What the commands check before combining artefacts, and the provenance they record.

The records and their comparison are :mod:`xenc_toolkit.utils.provenance`; this module says which
fields each command compares (the Linker checks its model and index itself,
:func:`xenc_toolkit.linking.linker.check_model_matches_index`):

* ``xenc mine``: the corpus is the one an index built with ``add_training_mentions`` took names
  from, and the corpus's gold ids name concepts of the index's KB;
* ``xenc train --resume``: the run's checkpoints were trained on these pairs;
* ``xenc calibrate`` / ``xenc evaluate``: the model was trained on pairs of the KB the evaluated
  pairs come from, with their input format.

A mismatch is an :class:`~xenc_toolkit.errors.ArtifactMismatchError` unless the command runs with
``--allow-mismatch``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import dump_config
from ..reranker.model_dir import check_input_format, load_provenance
from ..utils.provenance import (
    Artefact,
    Check,
    kb_summary,
    mismatch,
    new_record,
    read_record,
    reference,
    require_match,
)
from .inputs import corpus_checksum

KB_CHECK = Check("KB checksum", "kb.checksum", shown="kb.source")


def index_artefact(index) -> Artefact:
    return Artefact("index", index.directory or "(in memory)", index.provenance)


# --------------------------------------------------------------------------- mine
def check_corpus_matches_index(cfg, index) -> None:
    """An index whose KB took the training mentions of a corpus (``add_training_mentions``) is mined with that
    corpus and split: another one's dev mentions may be the KB's names, and cross-fitting removes the wrong ones."""
    built_with = (index.provenance or {}).get("corpus")
    if built_with is None or cfg.corpus.path is None:
        return
    require_match(
        index_artefact(index),
        Artefact("corpus", cfg.corpus.path, {"corpus": corpus_checksum(cfg.corpus)}),
        [Check("corpus files and splits", "corpus.sha256", shown="corpus.files.corpus.file")],
        allow=cfg.allow_mismatch,
        remedy="the index's KB holds the training-mention strings of another corpus or split "
        "(build-index add_training_mentions); mine the corpus and split files it was built with, or rebuild "
        "the index with these",
    )


def check_gold_ids_in_kb(mentions_by_split: dict[str, Any], index, cfg) -> None:
    """Refuse a corpus none of whose gold ids names a concept of the index's KB (annotated for another KB)."""
    kb = index.kb
    golds = [gid for mentions in mentions_by_split.values() for m in mentions for gid in m.gold_ids]
    if not golds or any(kb.resolve(gid) is not None for gid in golds):
        return
    corpus_ids = list(dict.fromkeys(golds))[:3]
    kb_ids = list(kb.concept_ids[:3])
    where = cfg.corpus.path if cfg.corpus.path is not None else "(given mentions)"
    mismatch(
        f"corpus {where} does not match index {index.directory or cfg.index_dir}: none of its {len(golds):,} gold "
        f"ids names a concept of the index's KB (source {kb.metadata.get('source')!r}): corpus ids "
        f"{', '.join(map(repr, corpus_ids))}, ... vs KB ids {', '.join(map(repr, kb_ids))}, ...",
        "mine a corpus annotated with this KB's identifiers (corpus.id_prefix strips a prefix such as 'MESH:'), "
        "or build the index from the KB the corpus uses",
        cfg.allow_mismatch,
    )


def pairs_provenance(cfg, index) -> dict[str, Any]:
    """The fields of a pairs directory's record (``save_mining`` adds the input format)."""
    record = index.provenance
    return {
        "kb": kb_summary(index.kb),
        "encoder": (record or {}).get("encoder") or index.manifest.get("encoder"),
        "candidates": cfg.candidates.model_dump(mode="json"),
        "corpus": corpus_checksum(cfg.corpus) if cfg.corpus.path is not None else None,
        "inputs": {"index": reference(index.directory, record)},
        "config": dump_config(cfg),
    }


# --------------------------------------------------------------------------- train
def training_provenance(cfg) -> dict[str, Any]:
    """The record of a training run's output directory (written when it starts; ``--resume`` checks it)."""
    pairs = read_record(cfg.pairs_dir)
    return {
        "kb": (pairs or {}).get("kb"),
        "inputs": {"pairs": reference(cfg.pairs_dir, pairs)},
        "base_model": cfg.base_model,
        "config": dump_config(cfg),
    }


def check_resume_matches_pairs(cfg, output_dir: Path) -> None:
    """``--resume`` continues a run on the pairs it started with."""
    require_match(
        Artefact("training run", output_dir, read_record(output_dir)),
        Artefact("pairs", cfg.pairs_dir, read_record(cfg.pairs_dir)),
        [Check("pairs", "inputs.pairs.id", other_key="id", shown="inputs.pairs.path"), KB_CHECK],
        allow=cfg.allow_mismatch,
        remedy="its checkpoints were trained on other pairs; resume with the pairs it started with, or train "
        "from scratch (without --resume)",
    )


def model_provenance(cfg, kind: str) -> dict[str, Any]:
    """The fields of an exported model directory's record: what its training pairs were made from."""
    pairs = read_record(cfg.pairs_dir) or {}
    inherited = {key: pairs.get(key) for key in ("kb", "encoder", "candidates", "input_format", "corpus")}
    return {
        **inherited,
        "inputs": {"pairs": reference(cfg.pairs_dir, pairs or None)},
        "base_model": cfg.base_model,
        "export": kind,
        "config": dump_config(cfg),
    }


# --------------------------------------------------------------------------- calibrate, evaluate
def check_model_matches_pairs(model_dir: Path, pairs_dir: Path, allow: bool) -> None:
    """The model was trained on pairs of the KB these pairs come from, written in their input format."""
    check_input_format(model_dir, pairs_dir, allow_mismatch=allow)
    require_match(
        Artefact("model", model_dir, load_provenance(model_dir)),
        Artefact("pairs", pairs_dir, read_record(pairs_dir)),
        [KB_CHECK],
        allow=allow,
        remedy="the model was trained for another knowledge base than these candidate lists come from, so its "
        "scores, calibration and metrics would not mean what they say; mine the split with the index the "
        "model's training pairs were mined with",
    )


def calibration_provenance(model_dir: Path, pairs_dir: Path, split: str) -> dict[str, Any]:
    """The provenance record of a calibration (embedded in its metadata)."""
    model, pairs = load_provenance(model_dir), read_record(pairs_dir)
    return new_record(
        "calibration",
        kb=(pairs or {}).get("kb"),
        inputs={"model": reference(model_dir, model), "pairs": reference(pairs_dir, pairs)},
        split=split,
    )
