"""SapBERT-style fine-tuning of the bi-encoder on a knowledge base's synonyms.

Retrieval caps linking accuracy: the reranker only reorders the candidates the bi-encoder
finds. A general-purpose encoder (all-MiniLM-L6-v2) or even SapBERT has never seen this KB's
names; this module teaches it that the names of one concept belong together, as SapBERT
(Liu et al., 2021) did over all of UMLS, with the sentence-transformers trainer:

* **pairs** (:func:`build_training_pairs`): two different names of one concept (at most
  ``max_pairs_per_concept`` per concept, drawn with a seed; names differing only in case,
  accents or punctuation count as one), plus optionally (training mention, a name of its gold
  concept). Only training mentions may be passed: mentions of an evaluation split ("dev",
  "validation", "test") are refused, since an encoder tuned on them would make the evaluation
  mentions easy to retrieve. Composite mentions (several gold ids) name no single concept and
  are skipped, as are mentions whose gold id the KB does not know;
* **loss**: ``MultipleNegativesRankingLoss`` (InfoNCE over cosine similarities): each pair's
  negatives are the other pairs of its batch (``CachedMultipleNegativesRankingLoss``, the same
  loss with GradCache, when ``mini_batch_size`` is set, so large batches fit in memory);
* **batches** (:class:`ConceptUniqueBatchSampler`): a batch never holds two pairs of one
  concept, since the second pair's names would be scored as negatives of the first pair's
  anchor while being its synonyms. sentence-transformers' ``NO_DUPLICATES`` sampler compares
  texts only and cannot see that. Two different concepts may still share a name string (an
  ambiguous name such as "MI"); such pairs can meet in a batch, as they are different concepts;
* **output**: a plain sentence-transformers directory (Transformer -> CLS or mean pooling ->
  L2 normalisation, the pooling :class:`~xenc_toolkit.retrieval.encoder.NameEncoder` applies to the
  base model, so that ``DenseIndex.build(kb, EncoderConfig(model=<dir>), ...)`` embeds exactly
  what was trained), written atomically, plus ``xenc_encoder_tuning.json`` (the tuning config,
  pair counts, the KB checksum, training figures and the in-batch loss before and after).

Training runs in one process: on a CPU, or on the GPUs the process sees (the Hugging Face trainer
spreads each batch over all of them, so each step then takes ``batch_size`` pairs per GPU; set
``CUDA_VISIBLE_DEVICES`` to use one).
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import math
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sentence_transformers.base.sampler import DefaultBatchSampler

from ..corpora.mention import Mention
from ..errors import XencError
from ..kb.model import KnowledgeBase
from ..retrieval.encoder import _is_sentence_transformers_dir, resolve_pooling
from ..settings import EncoderTuningConfig, dump_settings
from ..utils.devices import resolve_device
from ..utils.hub import check_model_available
from ..utils.io import atomic_directory, atomic_write_json
from ..utils.progress import log
from .encoder_pairs import TrainingPairs, build_training_pairs

TUNING_INFO_FILE = "xenc_encoder_tuning.json"
EVALUATION_SPLITS = frozenset({"dev", "validation", "test"})
_PROGRESS_MIN_CONCEPTS = 200_000  # pairing shows a progress bar for KBs this large


# --------------------------------------------------------------------------- pairs
class ConceptUniqueBatchSampler(DefaultBatchSampler):
    """Batches in which no concept occurs twice, for losses with in-batch negatives.

    Each epoch, the concepts are put in a random order and each concept's pairs (shuffled)
    laid out one after the other; position ``p`` of that sequence goes to batch ``p mod B``.
    A concept's pairs are consecutive, so they land in different batches as long as it has
    at most ``B`` pairs: ``B`` is the number of batches ``batch_size`` asks for, raised to the
    largest concept's pair count if that is larger (batches then get smaller; no pair is
    dropped). Batch order is shuffled. With ``drop_last``, every batch holds exactly
    ``batch_size`` pairs: a concept contributes at most ``B`` pairs that epoch, and the
    sequence's tail is left out.

    Pass it to the trainer with the concepts bound, as
    ``batch_sampler=functools.partial(ConceptUniqueBatchSampler, concepts=pairs.concepts)``
    (``SentenceTransformerTrainingArguments`` accepts such a callable).

    Args:
        dataset: the training dataset (only its length is used).
        batch_size: pairs per batch (at most).
        drop_last: whether to drop incomplete batches (see above).
        valid_label_columns: unused (part of the sentence-transformers sampler interface).
        generator: unused; shuffling uses numpy with ``seed + epoch``.
        seed: seed of the shuffles.
        concepts: the concept of each dataset row.
    """

    def __init__(
        self,
        dataset,
        batch_size: int,
        drop_last: bool,
        valid_label_columns: list[str] | None = None,
        generator: torch.Generator | None = None,
        seed: int = 0,
        *,
        concepts: Sequence[int] | np.ndarray,
    ) -> None:
        super().__init__(
            dataset,
            batch_size=batch_size,
            drop_last=drop_last,
            valid_label_columns=valid_label_columns,
            generator=generator,
            seed=seed,
        )
        concepts = np.asarray(concepts)
        if len(concepts) != len(dataset):
            raise ValueError(f"{len(concepts)} concepts given for a dataset of {len(dataset)} rows")
        distinct, groups = np.unique(concepts, return_inverse=True)
        order = np.argsort(groups, kind="stable")
        bounds = np.searchsorted(groups[order], np.arange(len(distinct) + 1))
        self._members = [order[bounds[g] : bounds[g + 1]] for g in range(len(distinct))]
        self._sizes = np.asarray([len(m) for m in self._members], dtype=np.int64)
        self._n_batches, self._cap = self._layout()

    def _layout(self) -> tuple[int, int]:
        """(number of batches, most pairs a concept contributes per epoch)."""
        n = int(self._sizes.sum())
        largest = int(self._sizes.max()) if len(self._sizes) else 0
        if not self.drop_last:
            return max(-(-n // self.batch_size), largest), largest
        n_batches = n // self.batch_size
        while n_batches:  # a concept contributes at most one pair per batch: trim and recount until stable
            kept = int(np.minimum(self._sizes, n_batches).sum()) // self.batch_size
            if kept == n_batches:
                break
            n_batches = kept
        return n_batches, n_batches

    def __len__(self) -> int:
        return self._n_batches

    def __iter__(self) -> Iterator[list[int]]:
        if not self._n_batches:
            return
        rng = np.random.default_rng((self.seed or 0) + self.epoch)
        sequence = np.concatenate(
            [rng.permutation(self._members[g])[: self._cap] for g in rng.permutation(len(self._members))]
        )
        if self.drop_last:
            sequence = sequence[: self._n_batches * self.batch_size]
        batches = [sequence[b :: self._n_batches] for b in range(self._n_batches)]
        for b in rng.permutation(self._n_batches).tolist():
            yield batches[b].tolist()


def concept_unique_batches(
    concepts: Sequence[int] | np.ndarray, batch_size: int, seed: int = 0, drop_last: bool = False
) -> list[list[int]]:
    """One epoch of :class:`ConceptUniqueBatchSampler` over rows with these ``concepts`` (row indices)."""
    sampler = ConceptUniqueBatchSampler(
        range(len(concepts)), batch_size=batch_size, drop_last=drop_last, seed=seed, concepts=concepts
    )
    return list(sampler)


# --------------------------------------------------------------------------- model and loss
def sentence_transformer_for(
    model: str,
    pooling: str = "auto",
    max_length: int = 25,
    revision: str | None = None,
    device: str | None = None,
):
    """A ``SentenceTransformer`` that computes what :class:`NameEncoder` computes for ``model``.

    Transformer (fp32 weights) -> the pooling ``NameEncoder`` resolves (a sentence-transformers
    directory's own CLS or mean pooling, CLS for plain HF models) -> L2 normalisation. Other
    modules of a sentence-transformers directory (e.g. Dense) are left out, as the name encoder
    ignores them too.

    Returns:
        ``(model, pooling)``.
    """
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling

    pooling = resolve_pooling(model, pooling)
    if _is_sentence_transformers_dir(model):
        modules = json.loads(Path(model, "modules.json").read_text(encoding="utf-8"))
        kinds = ("Transformer", "Pooling", "Normalize")
        ignored = [m.get("type", "?") for m in modules if not str(m.get("type", "")).endswith(kinds)]
        if ignored:
            log(
                f"{model}: modules {ignored} are not used by the index's name encoder and are left out of the "
                "tuned model",
                style="yellow",
            )
    hub = {"revision": revision} if revision else {}
    check_model_available(model, revision, "base model")
    try:
        transformer = Transformer(
            model,
            max_seq_length=max_length,
            model_kwargs={"dtype": torch.float32, **hub},
            processor_kwargs=dict(hub),
            config_kwargs=dict(hub),
        )
    except OSError as exc:
        raise XencError(f"cannot load encoder {model!r}: {str(exc).splitlines()[0]}") from exc
    dimension = transformer.get_embedding_dimension()
    st_model = SentenceTransformer(
        modules=[transformer, Pooling(dimension, pooling_mode=pooling), Normalize()],
        device=str(resolve_device(device)),
    )
    return st_model, pooling


_DIRECTIONS = {
    "query_to_doc": (("query_to_doc",), "joint"),
    "symmetric": (("query_to_doc", "doc_to_query"), "per_direction"),
    "all": (("query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc"), "joint"),
}


def make_loss(model, config: EncoderTuningConfig, cached: bool | None = None):
    """``MultipleNegativesRankingLoss`` with the configured directions and scale
    (``CachedMultipleNegativesRankingLoss`` when ``mini_batch_size`` is set, or ``cached``)."""
    from sentence_transformers.sentence_transformer.losses import (
        CachedMultipleNegativesRankingLoss,
        MultipleNegativesRankingLoss,
    )

    directions, partition = _DIRECTIONS[config.directions]
    cached = config.mini_batch_size is not None if cached is None else cached
    if cached:
        return CachedMultipleNegativesRankingLoss(
            model,
            scale=config.scale,
            mini_batch_size=config.mini_batch_size or 32,
            directions=directions,
            partition_mode=partition,
        )
    return MultipleNegativesRankingLoss(model, scale=config.scale, directions=directions, partition_mode=partition)


@torch.no_grad()
def in_batch_metrics(
    model, pairs: TrainingPairs, config: EncoderTuningConfig, batch_size: int | None = None, seed: int = 0
) -> dict[str, float]:
    """The training loss and in-batch accuracy of ``model`` on ``pairs``, in concept-unique batches.

    Accuracy: the share of anchors whose own positive is the most similar of their batch's
    positives. Batches are those of :class:`ConceptUniqueBatchSampler` with ``seed`` (the same
    for the same pairs), so figures before and after tuning are comparable.
    """
    batch_size = batch_size or config.batch_size
    loss_fn = make_loss(model, config, cached=False)
    was_training = model.training
    model.eval()
    total_loss, correct, n = 0.0, 0, 0
    try:
        for rows in concept_unique_batches(pairs.concepts, batch_size, seed=seed):
            anchors = model.encode([pairs.anchors[i] for i in rows], convert_to_tensor=True, batch_size=256)
            positives = model.encode([pairs.positives[i] for i in rows], convert_to_tensor=True, batch_size=256)
            anchors, positives = anchors.float(), positives.float()
            loss = loss_fn.compute_loss_from_embeddings([anchors, positives], None)
            total_loss += float(loss) * len(rows)
            scores = anchors @ positives.T
            correct += int((scores.argmax(dim=1) == torch.arange(len(rows), device=scores.device)).sum())
            n += len(rows)
    finally:
        model.train(was_training)
    return {"loss": round(total_loss / max(1, n), 5), "accuracy": round(correct / max(1, n), 5), "pairs": n}


def _package_versions() -> dict[str, str]:
    from .schedule import package_versions

    return package_versions()


# --------------------------------------------------------------------------- tuning
def build_trainer(
    model,
    pairs: TrainingPairs,
    config: EncoderTuningConfig,
    output_dir: str | Path,
    seed: int = 42,
    precision: str = "fp32",
    callbacks: list | None = None,
):
    """The ``SentenceTransformerTrainer`` that tunes ``model`` on ``pairs`` in concept-unique batches.

    ``output_dir`` is the trainer's scratch directory (nothing is saved there: no checkpoints,
    no loggers). Progress goes to the rich console.

    Returns:
        ``(trainer, steps_per_epoch, total_steps)``.
    """
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from .progress import RichProgressCallback
    from .schedule import schedule_arguments

    batch_sampler = functools.partial(ConceptUniqueBatchSampler, concepts=pairs.concepts)
    steps_per_epoch = len(batch_sampler(range(len(pairs)), batch_size=config.batch_size, drop_last=False, seed=seed))
    total_steps = config.max_steps or max(1, math.ceil(steps_per_epoch * config.epochs))
    on_gpu = model.device.type == "cuda"
    args = SentenceTransformerTrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=config.batch_size,
        batch_sampler=batch_sampler,
        dataloader_drop_last=False,
        **schedule_arguments(
            learning_rate=config.learning_rate,
            warmup_ratio=config.warmup_ratio,
            total_steps=total_steps,
            weight_decay=config.weight_decay,
            epochs=config.epochs,
            max_steps=config.max_steps,
            precision=precision,
            seed=seed,
        ),
        save_strategy="no",
        eval_strategy="no",
        logging_steps=max(1, min(50, total_steps // 20)),
        logging_first_step=True,
        report_to="none",
        optim="adamw_torch_fused" if on_gpu else "adamw_torch",
        use_cpu=not on_gpu,
        dataloader_pin_memory=on_gpu,
        disable_tqdm=True,  # progress goes to the rich console
    )
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=pairs.to_dataset(),
        loss=make_loss(model, config),
        callbacks=list(callbacks or []),
    )
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(RichProgressCallback())
    return trainer, steps_per_epoch, total_steps


def tune_encoder(
    kb: KnowledgeBase,
    base_model: str,
    output_dir: str | Path,
    config: EncoderTuningConfig | None = None,
    mentions: Iterable[Mention] | None = None,
    *,
    pooling: str = "auto",
    max_length: int = 25,
    revision: str | None = None,
    device: str | None = None,
    seed: int = 42,
    callbacks: list | None = None,
    run_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fine-tune ``base_model`` on ``kb``'s synonyms (and training ``mentions``); write it to ``output_dir``.

    Args:
        kb: the knowledge base whose names are paired.
        base_model: sentence-transformers or Hugging Face model (name or path) to start from.
        output_dir: where the tuned sentence-transformers directory is written (replaced atomically).
        config: pairs, loss and optimiser settings (default :class:`EncoderTuningConfig`).
        mentions: training mentions to pair with their gold concept's names (never evaluation
            mentions; mentions of a "dev", "validation" or "test" split are refused).
        pooling / max_length / revision: as :class:`~xenc_toolkit.retrieval.encoder.NameEncoder` takes them.
        device: 'cuda' or 'cpu' (default: GPU when present).
        seed: seeds pair sampling, the monitored sample, batch order and the trainer.
        callbacks: extra ``transformers.TrainerCallback`` objects.
        run_config: the command's whole config, recorded in the JSON next to the model.

    Returns:
        A summary: output directory, pooling and dimension, pair counts, steps, training loss,
        seconds and the in-batch loss / accuracy on a fixed sample of pairs before and after.
    """
    from transformers import set_seed

    from .schedule import resolve_precision

    config = config or EncoderTuningConfig()
    output_dir = Path(output_dir)
    started = time.perf_counter()
    pairs = build_training_pairs(kb, mentions, config.max_pairs_per_concept, seed)
    log(
        f"encoder tuning pairs: {pairs.counts['name_pairs']:,} name pairs of {pairs.counts['concepts_paired']:,} "
        f"concepts, {pairs.counts.get('mention_pairs', 0):,} mention pairs ({pairs.counts['concepts']:,} concepts)"
    )
    set_seed(seed)
    model, pooling = sentence_transformer_for(base_model, pooling, max_length, revision, device)
    run_device = model.device
    precision = resolve_precision(config.precision, on_gpu=run_device.type == "cuda")

    monitor = None
    if config.monitor_pairs:
        rng = np.random.default_rng(seed + 2)
        sample = rng.choice(len(pairs), size=min(config.monitor_pairs, len(pairs)), replace=False)
        monitor = pairs.select(np.sort(sample))
    before = in_batch_metrics(model, monitor, config, seed=seed) if monitor is not None else None

    output_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{output_dir.name}.trainer-", dir=output_dir.parent) as scratch:
        trainer, steps_per_epoch, total_steps = build_trainer(
            model, pairs, config, scratch, seed=seed, precision=precision, callbacks=callbacks
        )
        log(
            f"tuning {base_model} ({pooling} pooling) on {len(pairs):,} pairs: {total_steps:,} steps of "
            f"{config.batch_size} pairs ({steps_per_epoch:,} per epoch), {config.directions} in-batch loss, "
            f"{precision}"
        )
        result = trainer.train()
    after = in_batch_metrics(model, monitor, config, seed=seed) if monitor is not None else None

    state = trainer.state
    training = {
        "steps": state.global_step,
        "epochs": round(float(state.epoch or 0.0), 4),
        "steps_per_epoch": steps_per_epoch,
        "batch_size": config.batch_size,
        "train_loss": result.metrics.get("train_loss"),
        "train_runtime": result.metrics.get("train_runtime"),
        "train_samples_per_second": result.metrics.get("train_samples_per_second"),
        "precision": precision,
        "device": str(run_device),
    }
    summary: dict[str, Any] = {
        "output_dir": str(output_dir),
        "base_model": base_model,
        "revision": revision,
        "pooling": pooling,
        "max_length": max_length,
        "dimension": int(model.get_embedding_dimension()),
        "pairs": dict(pairs.counts),
        "training": training,
        "monitor": None if monitor is None else {"before": before, "after": after},
        "kb": {
            "checksum": kb.checksum,
            "n_concepts": kb.n_concepts,
            "n_names": kb.n_names,
            "source": kb.metadata.get("source"),
        },
    }
    info = {
        **summary,
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "tuning": dump_settings(config),
        "seed": seed,
        "config": run_config,
        "versions": _package_versions(),
        "log_history": state.log_history,
    }
    with atomic_directory(output_dir) as tmp:
        model.save_pretrained(str(tmp))
        atomic_write_json(tmp / TUNING_INFO_FILE, info)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    log(f"tuned encoder written to {output_dir}")
    return summary
