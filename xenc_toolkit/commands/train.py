"""``xenc train``: fine-tune a CrossEncoder on mined pairs with the sentence-transformers trainer.

Output directory::

    checkpoint-N/        trainer checkpoints (model + optimiser, scheduler, RNG, step) for --resume, every
                         save_steps updates, save_minutes and evaluation; each marked complete once written
                         (xenc_checkpoint.json, see training.checkpoints)
    xenc_provenance.json the run's provenance record (the pairs it trains on; --resume checks it)
    runs/                TensorBoard logs (loss, learning rate, evaluator metrics)
    eval/                evaluator CSVs
    best/                plain CrossEncoder directory: the checkpoint with the best dev metric
    final/               plain CrossEncoder directory: the weights at the end of training
    training_summary.json

``best/`` and ``final/`` also hold xenc's sidecar files (:mod:`~xenc_toolkit.reranker.model_dir`:
how to write query and candidate texts, the candidate generator, the exact config, package
versions and metrics) and the sentence-transformers model card (README.md). They load with
``sentence_transformers.CrossEncoder(path)`` and nothing from this package.

Multi-GPU: the same command runs under ``torchrun --nproc_per_node N`` or ``accelerate launch``
(DDP through the sentence-transformers trainer). ``batch_size`` is per device, so the global
batch is ``batch_size x processes x gradient_accumulation_steps``. ``global_batch_size`` fixes
the global batch instead: each update's examples are drawn as one batch and split between the
processes, so 1, 2 or 8 GPUs see the same examples in the same order (only the arithmetic is
spread). Under DDP an epoch's last, incomplete batch is dropped, so that every process takes
the same number of steps. Datasets are prepared on the main process first (the others reuse
its ``datasets`` cache), the model is loaded straight onto each process's device, the
evaluator runs once per evaluation on the main process (its metrics reach every process), and
only the main process deletes stale checkpoints, writes checkpoints, TensorBoard logs,
``best/``, ``final/`` and the summary; every process returns after the exports exist.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import TrainConfig, dump_config
from ..errors import XencError
from ..evaluation.evaluators import LinkingEvaluator
from ..mining.pairs import load_candidate_lists, load_pairs
from ..reranker.model_dir import (
    check_input_format,
    load_input_format,
    save_candidate_config,
    save_input_format,
    save_provenance,
    save_training_info,
)
from ..training.checkpoints import CheckpointCallback, checkpoint_dirs, latest_checkpoint
from ..training.cpu_estimate import heads_up
from ..training.data import PretokenizedListCollator, PretokenizedPairCollator, pretokenize_lists, pretokenize_pairs
from ..training.distributed import barrier, init_distributed, is_main_process, main_process_first, world_size
from ..training.examples import training_lists, with_kind_weights
from ..training.losses import LOSSES
from ..training.progress import RichProgressCallback
from ..training.schedule import package_versions, resolve_precision, schedule_arguments
from ..training.trainer import XencCrossEncoderTrainer
from ..utils.hub import check_model_available
from ..utils.io import atomic_directory, atomic_write_json, read_json
from ..utils.library_logs import quiet_loading
from ..utils.progress import log
from ..utils.provenance import new_record, read_record, write_record
from .artefacts import check_resume_matches_pairs, model_provenance, training_provenance

MAX_EVAL_LOSS_EXAMPLES = 20000


def per_device_batch_size(cfg: TrainConfig, n_processes: int = 1) -> int:
    """Examples (pairs, or mentions for listwise losses) per device per step.

    ``cfg.batch_size`` is per device: the global batch is ``batch_size x n_processes x
    gradient_accumulation_steps``. A set ``global_batch_size`` fixes the global batch instead,
    whatever the launch: it is divided by ``n_processes x accumulation`` and must be a multiple of it.
    """
    global_batch = cfg.global_batch_size
    if not global_batch:
        return cfg.batch_size
    per_step = n_processes * cfg.gradient_accumulation_steps
    if global_batch % per_step:
        raise XencError(
            f"global_batch_size {global_batch} is not a multiple of {n_processes} process(es) x "
            f"{cfg.gradient_accumulation_steps} gradient accumulation step(s)"
        )
    return global_batch // per_step


def micro_batches(cfg: TrainConfig, batch_size: int, split: bool = False) -> int:
    """Length-sorted micro-batches per batch (``cfg.micro_batches``; 1 without the fast data path)."""
    micro = cfg.micro_batches if cfg.fast else 1
    if micro > 1 and batch_size % micro:
        raise XencError(f"micro_batches {micro} must divide the per-device batch of {batch_size}")
    if micro > 1 and split:
        raise XencError("micro_batches cannot be combined with global_batch_size over several processes")
    return micro


def build_model(cfg: TrainConfig, device: str | None = None):
    from sentence_transformers import CrossEncoder

    check_model_available(cfg.base_model, what="base model")
    try:
        # fp32 master weights whatever the checkpoint's storage dtype (transformers 5 loads "auto": an
        # fp16-stored base would otherwise train in fp16); bf16/fp16 come from autocast (--precision)
        with quiet_loading():  # a new head's "LOAD REPORT" of missing keys is expected: --verbose shows it
            return CrossEncoder(
                cfg.base_model,
                num_labels=1,
                max_length=cfg.max_length,
                device=device,
                model_kwargs={"dtype": torch.float32},
            )
    except OSError as exc:
        raise XencError(f"cannot load base model {cfg.base_model!r}: {str(exc).splitlines()[0]}") from exc


def prepare_datasets(cfg: TrainConfig, model, batch_size: int | None = None) -> dict[str, Any]:
    """Train/eval datasets, loss and collator for the configured loss and data path.

    ``batch_size``: the per-device training batch (default ``cfg.batch_size``); sets the evaluator's batch.
    """
    batch_size = batch_size or cfg.batch_size
    pairs = load_pairs(cfg.pairs_dir)
    if "train" not in pairs:
        raise XencError(f"{cfg.pairs_dir}: no 'train' split (mined splits: {', '.join(pairs.keys())})")
    if cfg.dev_split == "auto":
        dev_split = "dev" if "dev" in pairs else ("validation" if "validation" in pairs else None)
    elif cfg.dev_split == "none":
        dev_split = None
    elif cfg.dev_split in pairs:
        dev_split = cfg.dev_split
    else:
        raise XencError(f"{cfg.pairs_dir}: no split {cfg.dev_split!r} to evaluate on (mined: {', '.join(pairs)})")
    for split in ("train", dev_split):
        if split is not None and not len(pairs[split]):
            raise XencError(
                f"{cfg.pairs_dir}: split {split!r} holds no pairs (none of its mentions had its gold concept in the "
                "KB); mine it again with a KB that covers the corpus"
                + (" or train with --dev-split none" if split != "train" else "")
            )
    tokenizer = model.tokenizer
    pad_id = tokenizer.pad_token_id or 0
    info: dict[str, Any] = {"dev_split": dev_split}
    entry = LOSSES.entry(cfg.loss)
    loss = entry.target(model, **{option: getattr(cfg, option) for option in entry.meta.get("options", ())})
    if entry.meta["inputs"] == "pairs":
        train = pairs["train"]
        if cfg.kind_weights:
            train = with_kind_weights(train, cfg.kind_weights)
        keep = ["query", "candidate", *(["weight"] if cfg.kind_weights else []), "label"]
        train = train.select_columns(keep)
        eval_ds = None
        if dev_split:
            eval_ds = pairs[dev_split]
            if len(eval_ds) > MAX_EVAL_LOSS_EXAMPLES:
                eval_ds = eval_ds.shuffle(seed=cfg.seed).select(range(MAX_EVAL_LOSS_EXAMPLES))
            eval_ds = eval_ds.select_columns(["query", "candidate", "label"])
        if cfg.fast:
            train = pretokenize_pairs(train, tokenizer, cfg.max_length).remove_columns(["query", "candidate"])
            if eval_ds is not None:
                eval_ds = pretokenize_pairs(eval_ds, tokenizer, cfg.max_length).remove_columns(["query", "candidate"])
            collator = PretokenizedPairCollator(pad_token_id=pad_id)
        else:
            collator = None
        info["train_examples"] = len(train)
    else:
        lists = load_candidate_lists(cfg.pairs_dir)
        train, dropped = training_lists(lists["train"], cfg.list_size)
        train = train.select_columns(["query", "candidate_texts", "labels"])
        info["train_examples"] = len(train)
        info["train_mentions_without_gold"] = dropped
        eval_ds = None
        if dev_split and dev_split in lists:
            eval_ds, _ = training_lists(lists[dev_split], cfg.list_size)
            eval_ds = eval_ds.select_columns(["query", "candidate_texts", "labels"])
            if len(eval_ds) > MAX_EVAL_LOSS_EXAMPLES // cfg.list_size:
                eval_ds = eval_ds.select(range(MAX_EVAL_LOSS_EXAMPLES // cfg.list_size))
        if cfg.fast:
            train = pretokenize_lists(train, tokenizer, cfg.max_length).remove_columns(["query", "candidate_texts"])
            if eval_ds is not None:
                eval_ds = pretokenize_lists(eval_ds, tokenizer, cfg.max_length).remove_columns(
                    ["query", "candidate_texts"]
                )
            collator = PretokenizedListCollator(pad_token_id=pad_id)
        else:
            collator = None
    if not len(train):
        raise XencError(f"{cfg.pairs_dir}: the training split has no usable examples")
    evaluator = None
    if dev_split:
        dev_lists = load_candidate_lists(cfg.pairs_dir, dev_split)
        evaluator = LinkingEvaluator.from_candidate_lists(
            dev_lists,
            name="dev",
            max_mentions=cfg.max_eval_mentions,
            batch_size=max(64, batch_size),
            precision=cfg.precision,
        )
    return {"train": train, "eval": eval_ds, "loss": loss, "collator": collator, "evaluator": evaluator, **info}


def training_arguments(cfg: TrainConfig, n_train: int, has_eval: bool, n_processes: int | None = None):
    """The trainer's arguments. ``n_processes``: data-parallel processes (default: the launch's world size)."""
    from sentence_transformers.cross_encoder import CrossEncoderTrainingArguments

    n_processes = n_processes or world_size()
    batch_size = per_device_batch_size(cfg, n_processes)
    precision = resolve_precision(cfg.precision)
    # a fixed global batch is drawn whole and split between the processes (accelerate's split_batches):
    # the same examples in the same order make each update, whatever the number of processes
    split = bool(cfg.global_batch_size) and n_processes > 1
    # micro-batches: each batch is loaded as k length-sorted pieces, accumulated into one update
    micro = micro_batches(cfg, batch_size, split)
    accumulation = cfg.gradient_accumulation_steps * micro
    batch_size //= micro
    loader_batch = batch_size * n_processes if split else batch_size
    # otherwise each process takes every n-th batch; an update consumes `accumulation` batches per process
    batches_per_process = (
        math.ceil(n_train / loader_batch) if split else math.ceil(math.ceil(n_train / batch_size) / n_processes)
    )
    steps_per_epoch = max(1, math.ceil(batches_per_process / accumulation))
    total_steps = cfg.max_steps or max(1, math.ceil(steps_per_epoch * cfg.epochs))
    strategy = "steps" if cfg.eval_steps else "epoch"
    metric = cfg.metric_for_best_model
    metric = metric if metric.startswith("eval_") else f"eval_{metric}"
    on_gpu = torch.cuda.is_available()
    checkpointing = {}
    if cfg.gradient_checkpointing:  # renamed in recent transformers
        fields = CrossEncoderTrainingArguments.__dataclass_fields__
        checkpointing = {
            "activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing": True
        }
    return CrossEncoderTrainingArguments(
        **checkpointing,
        output_dir=str(cfg.output_dir),
        per_device_train_batch_size=loader_batch,
        per_device_eval_batch_size=max(batch_size * micro, 64),
        accelerator_config={"split_batches": True} if split else None,
        # every process must take the same number of steps: under DDP, an epoch's last, incomplete
        # batch is dropped (a process left without a share of it would stall the others)
        dataloader_drop_last=n_processes > 1,
        gradient_accumulation_steps=accumulation,
        **schedule_arguments(
            learning_rate=cfg.learning_rate,
            warmup_ratio=cfg.warmup_ratio,
            total_steps=total_steps,
            weight_decay=cfg.weight_decay,
            epochs=cfg.epochs,
            max_steps=cfg.max_steps,
            precision=precision,
            seed=cfg.seed,
        ),
        eval_strategy=strategy if has_eval else "no",
        eval_steps=cfg.eval_steps,
        # every save_steps; CheckpointCallback adds one after every evaluation and every save_minutes, marks
        # each complete, then keeps save_total_limit of them (the trainer's own rotation could delete the
        # last complete checkpoint before the new one is marked)
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=None,
        metric_for_best_model=metric if has_eval else None,
        greater_is_better=not any(k in metric for k in ("loss", "ece", "brier")),
        load_best_model_at_end=False,
        logging_steps=max(1, min(50, total_steps // 20)),
        logging_first_step=True,
        report_to=[r for r in cfg.report_to if r != "none"] or "none",
        optim="adamw_torch_fused" if on_gpu else "adamw_torch",
        torch_compile=cfg.compile,
        dataloader_num_workers=cfg.dataloader_workers,
        dataloader_pin_memory=on_gpu,
        # without this, accelerate treats torchrun processes on a CPU-only host as independent runs
        use_cpu=not on_gpu and n_processes > 1,
        # DDP: what the trainer picks for a plain Hugging Face model (a CrossEncoder is no PreTrainedModel,
        # so its default would be True: an autograd-graph search every step, and it breaks gradient
        # checkpointing); every parameter of a sequence-classification model gets a gradient each step
        ddp_find_unused_parameters=False,
        disable_tqdm=True,  # progress goes to the rich console (training.progress.RichProgressCallback)
        run_name=Path(cfg.output_dir).name,
    )


def _export(source_model_dir: Path | None, model, target: Path, cfg: TrainConfig, extra: dict[str, Any]) -> Path:
    """Write a plain CrossEncoder directory (from a checkpoint or the in-memory model) plus xenc metadata."""
    from sentence_transformers import CrossEncoder

    with atomic_directory(target) as tmp:
        if source_model_dir is not None:
            CrossEncoder(str(source_model_dir), device="cpu").save_pretrained(str(tmp))
        else:
            model.save_pretrained(str(tmp))
        fmt = load_input_format(cfg.pairs_dir)
        if fmt is not None:
            save_input_format(fmt, tmp)
        mining = Path(cfg.pairs_dir) / "xenc_mining.json"
        if mining.exists() and (read_json(mining).get("config") or {}).get("candidates"):
            save_candidate_config(tmp, read_json(mining)["config"]["candidates"])
        save_training_info(tmp, {"config": dump_config(cfg), "versions": package_versions(), **extra})
        save_provenance(tmp, new_record("model", **model_provenance(cfg, extra.get("kind", target.name))))
    return target


def _step(checkpoint: Path) -> int:
    return int(checkpoint.name.split("-")[1])


def _cpu_heads_up(cfg: TrainConfig, model, train_ds, batch_size: int) -> str:
    """The expected time and memory of this run on the CPU (:mod:`~xenc_toolkit.training.cpu_estimate`)."""
    per_step = batch_size * cfg.gradient_accumulation_steps
    if "length" in train_ds.column_names:  # tokens per example (per list, listwise), from the fast path
        lengths = train_ds["length"]
        tokens = float(np.mean(lengths)) if len(lengths) else float(cfg.max_length)
    else:
        tokens = float(cfg.max_length) * (cfg.list_size if LOSSES.entry(cfg.loss).meta["inputs"] == "lists" else 1)
    steps = cfg.max_steps or max(1, math.ceil(math.ceil(len(train_ds) / per_step) * cfg.epochs))
    return heads_up(model.model, tokens * per_step, steps)


def train(cfg: TrainConfig, evaluator=None, callbacks: list | None = None) -> dict[str, Any]:
    """Fine-tune and export ``best/`` and ``final/``; returns a summary (metrics, paths, throughput).

    Args:
        cfg: the training config.
        evaluator: replaces the default :class:`LinkingEvaluator` on the dev candidate lists.
        callbacks: extra ``transformers.TrainerCallback`` objects.
    """
    from transformers import EarlyStoppingCallback, set_seed

    dist_state = init_distributed()  # None unless launched by torchrun / accelerate launch
    n_processes = world_size()
    main = is_main_process()
    say = log if main else (lambda *args, **kwargs: None)
    batch_size = per_device_batch_size(cfg, n_processes)
    output_dir = Path(cfg.output_dir)
    resume_from = None
    if cfg.resume:
        resume_from = latest_checkpoint(output_dir)
        # newer than the newest complete one: being written when the run died
        partial = [p for p in checkpoint_dirs(output_dir) if resume_from is None or _step(p) > _step(resume_from)]
        if resume_from is None:
            found = (
                f"its checkpoints are incomplete (written when the run died): {', '.join(p.name for p in partial)}"
                if partial
                else "it has no checkpoint-* directory"
            )
            raise XencError(f"--resume: no checkpoint to resume from in {output_dir}: {found}")
        check_resume_matches_pairs(cfg, output_dir)
        skipped = f"; incomplete, removed: {', '.join(p.name for p in partial)}" if partial else ""
        say(f"resuming from {resume_from} (step {_step(resume_from)}, the newest complete checkpoint{skipped})")
        if main:
            for stale in partial:  # the resumed run writes them again
                shutil.rmtree(stale, ignore_errors=True)
    elif checkpoint_dirs(output_dir):
        say(
            f"{output_dir} has checkpoints from an earlier run; they are replaced (use --resume to continue)",
            style="yellow",
        )
        if main:
            for old in checkpoint_dirs(output_dir):
                shutil.rmtree(old, ignore_errors=True)
    if Path(cfg.base_model).is_dir():  # fine-tuning an xenc model further: on pairs written as it reads them
        check_input_format(cfg.base_model, cfg.pairs_dir, cfg.allow_mismatch)
    if main and (not cfg.resume or read_record(output_dir) is None):
        write_record(output_dir, new_record("training", **training_provenance(cfg)))
    barrier()
    set_seed(cfg.seed)
    # each process loads the model onto its own GPU (not all onto cuda:0)
    on_own_gpu = dist_state is not None and dist_state.device.type == "cuda"
    model = build_model(cfg, device=str(dist_state.device) if on_own_gpu else None)
    with main_process_first():
        data = prepare_datasets(cfg, model, batch_size=batch_size)
    if evaluator is not None:
        data["evaluator"] = evaluator
    args = training_arguments(cfg, len(data["train"]), has_eval=data["evaluator"] is not None, n_processes=n_processes)
    callbacks = [CheckpointCallback(cfg.save_minutes, keep=cfg.save_total_limit), *(callbacks or [])]
    early_stopping = None
    if cfg.early_stopping_patience and data["evaluator"] is not None:
        early_stopping = EarlyStoppingCallback(cfg.early_stopping_patience, cfg.early_stopping_threshold)
        callbacks.append(early_stopping)
    trainer = XencCrossEncoderTrainer(
        model=model,
        args=args,
        train_dataset=data["train"],
        eval_dataset=data["eval"],
        loss=data["loss"],
        evaluator=data["evaluator"],
        data_collator=data["collator"],
        callbacks=callbacks,
        length_grouped=cfg.fast,
        micro_batches=micro_batches(cfg, batch_size),
        length_granularity=cfg.length_bucket_tokens,
    )
    # the HF trainer prints every log dict when tqdm is off: the rich bar replaces both
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(RichProgressCallback())
    global_batch = batch_size * n_processes * cfg.gradient_accumulation_steps
    processes = f" on {n_processes} processes" if n_processes > 1 else ""
    say(
        f"training {cfg.base_model} on {data['train_examples']:,} {LOSSES.entry(cfg.loss).meta['inputs']} "
        f"({cfg.loss} loss, {args.num_train_epochs:g} epoch(s), batch {global_batch}"
        f"{f' = {batch_size} per device' if global_batch != batch_size else ''}{processes}, "
        f"{'bf16' if args.bf16 else 'fp16' if args.fp16 else 'fp32'})"
    )
    if main and model.device.type == "cpu":
        say(_cpu_heads_up(cfg, model, data["train"], batch_size), style="yellow")
    result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    state = trainer.state
    summary: dict[str, Any] = {
        "global_step": state.global_step,
        "epoch": state.epoch,
        "train_runtime": result.metrics.get("train_runtime"),
        "train_samples_per_second": result.metrics.get("train_samples_per_second"),
        "train_loss": result.metrics.get("train_loss"),
        "best_metric": state.best_metric,
        "metric_for_best_model": args.metric_for_best_model,
        "best_checkpoint": state.best_model_checkpoint,
        "stopped_early": early_stopping is not None and state.global_step < state.max_steps,
        "train_examples": data["train_examples"],
        "processes": n_processes,
        "per_device_batch_size": batch_size,
        "gradient_accumulation_steps": cfg.gradient_accumulation_steps,
        "global_batch_size": global_batch,
        "log_history": state.log_history,
    }
    if trainer.is_world_process_zero():
        final_dir = _export(None, model, output_dir / "final", cfg, {"metrics": summary, "kind": "final"})
        best_source = Path(state.best_model_checkpoint) if state.best_model_checkpoint else None
        best_dir = _export(best_source, model, output_dir / "best", cfg, {"metrics": summary, "kind": "best"})
        summary["final_dir"] = str(final_dir)
        summary["best_dir"] = str(best_dir)
        atomic_write_json(output_dir / "training_summary.json", summary)
    trainer.accelerator.wait_for_everyone()  # the other processes return once best/ and final/ exist
    summary.setdefault("final_dir", str(output_dir / "final"))
    summary.setdefault("best_dir", str(output_dir / "best"))
    return summary
