"""Training throughput: stock ``CrossEncoderTrainer`` vs xenc's fast data path, same model, data and batch.

    python benchmarks/train_throughput.py --steps 300 --batch-ctx 256 --batch-noctx 1024

Data: real MedMentions pairs (the dev split's mentions, +-16 words of context, vs a candidate
name: positive, hard, same-type and random negatives mined from a surface-form KB). Model: a
BERT-base-sized BERT (12 x 768, random weights, MiniLM's vocabulary; speed does not depend on
the weights). Both runs: same pairs, same seed, same effective batch, bf16, lr 2e-5 with linear
warm-up/decay, the same number of optimiser steps, dev loss every ``--eval-every`` steps on the same
dev pairs. Throughput counts training steps only (evaluation time is measured and subtracted)
and skips the first ``--warmup`` steps. Writes ``benchmarks/results/train_throughput.json``.

``--kinds`` also takes variants that show where a dev-loss difference comes from:
``stock-seed1`` (the stock trainer with another seed: the run-to-run spread),
``xenc-ungrouped`` (xenc without length-grouped batches: the stock data order),
``xenc-adamw`` (the unfused AdamW of the stock run), ``xenc-gran8`` / ``xenc-gran16`` (8- or 16-token length
buckets instead of the automatic choice) and ``xenc-micro4`` (each update one uniformly
random batch, as 4 length-sorted micro-batches with gradient accumulation: the stock batches'
gradient with little padding).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    bert_base_from_minilm_vocab,
    mine_medmentions_pairs,
    quiet_libraries,
    write_result,
)


class StepClock:
    """Training-step wall time, excluding evaluation, from the ``warmup``-th step on."""

    def __init__(self, warmup: int):
        from transformers import TrainerCallback

        clock = self

        class _Callback(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                import torch

                if state.global_step == warmup:
                    if torch.cuda.is_available():
                        torch.cuda.synchronize()
                    clock.start = time.perf_counter()
                    clock.eval_at_start = clock.eval_seconds
                if state.global_step == state.max_steps:
                    if torch.cuda.is_available():
                        torch.cuda.synchronize()
                    clock.end = time.perf_counter()
                    clock.eval_at_end = clock.eval_seconds  # the final evaluation comes after this

        self.callback = _Callback()
        self.warmup = warmup
        self.start = self.end = None
        self.eval_seconds = 0.0
        self.eval_at_start = 0.0
        self.eval_at_end = 0.0

    def wrap_evaluate(self, trainer):
        original = trainer.evaluate

        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.eval_seconds += time.perf_counter() - t

        trainer.evaluate = timed

    def samples_per_second(self, steps: int, batch: int) -> float:
        seconds = (self.end - self.start) - (self.eval_at_end - self.eval_at_start)
        return (steps - self.warmup) * batch / seconds


def run(
    kind: str,
    model_dir: Path,
    train,
    dev,
    batch: int,
    steps: int,
    eval_every: int,
    warmup: int,
    out: Path,
    workers: int,
    optim: str | None = None,
):
    import torch
    from sentence_transformers import CrossEncoder
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    from xenc_toolkit.api import (
        PretokenizedPairCollator,
        WeightedBinaryCrossEntropyLoss,
        XencCrossEncoderTrainer,
        pretokenize_pairs,
    )

    base, *variants = kind.split("-")
    seed = 1 if "seed1" in variants else 0
    micro = next((int(v[5:]) for v in variants if v.startswith("micro")), 1)
    granularity = next((int(v[4:]) for v in variants if v.startswith("gran")), "auto")
    if "adamw" in variants:
        optim = "adamw_torch"
    torch.manual_seed(seed)
    model = CrossEncoder(str(model_dir), num_labels=1, max_length=128)
    common = dict(
        output_dir=str(out / kind),
        per_device_train_batch_size=batch,
        per_device_eval_batch_size=512,
        learning_rate=2e-5,
        warmup_steps=int(0.1 * steps),
        lr_scheduler_type="linear",
        max_steps=steps,
        bf16=True,
        seed=seed,
        data_seed=seed,
        eval_strategy="steps",
        eval_steps=eval_every,
        save_strategy="no",
        logging_steps=50,
        report_to="none",
        disable_tqdm=True,
    )
    if not torch.cuda.is_available():  # CPU smoke run
        common["bf16"] = False
    prep = 0.0
    if base == "stock":
        args = CrossEncoderTrainingArguments(**common)
        trainer = CrossEncoderTrainer(
            model=model, args=args, train_dataset=train, eval_dataset=dev, loss=BinaryCrossEntropyLoss(model)
        )
    else:
        t = time.perf_counter()
        train_tok = pretokenize_pairs(train, model.tokenizer, 128, num_proc=8).remove_columns(["query", "candidate"])
        dev_tok = pretokenize_pairs(dev, model.tokenizer, 128, num_proc=8).remove_columns(["query", "candidate"])
        prep = time.perf_counter() - t
        on_gpu = torch.cuda.is_available()
        if micro > 1:  # each update: one random batch as `micro` length-sorted micro-batches
            common.update(per_device_train_batch_size=batch // micro, gradient_accumulation_steps=micro)
        args = CrossEncoderTrainingArguments(
            **common,
            optim=optim or ("adamw_torch_fused" if on_gpu else "adamw_torch"),
            dataloader_num_workers=workers,
            dataloader_persistent_workers=workers > 0,
            dataloader_pin_memory=on_gpu,
        )
        trainer = XencCrossEncoderTrainer(
            model=model,
            args=args,
            train_dataset=train_tok,
            eval_dataset=dev_tok,
            loss=WeightedBinaryCrossEntropyLoss(model),
            data_collator=PretokenizedPairCollator(pad_token_id=0),
            length_grouped="ungrouped" not in variants,
            micro_batches=micro,
            length_granularity=granularity,
        )
    clock = StepClock(warmup)
    trainer.add_callback(clock.callback)
    clock.wrap_evaluate(trainer)
    trainer.train()
    curve = [(h["step"], round(h["eval_loss"], 5)) for h in trainer.state.log_history if "eval_loss" in h]
    samples_per_s = round(clock.samples_per_second(steps, batch), 1)
    trainer.accelerator.free_memory()  # the next run must not inherit this one's GPU memory
    del trainer, model
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return {
        "samples_per_s": samples_per_s,
        "dev_loss_curve": curve,
        "pretokenize_seconds": round(prep, 2),
        "eval_seconds": round(clock.eval_seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--batch-ctx", type=int, default=256)
    parser.add_argument("--batch-noctx", type=int, default=1024)
    parser.add_argument("--max-mentions", type=int, default=70000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--settings", default="ctx,noctx")
    parser.add_argument(
        "--xenc-optim",
        default=None,
        help="optimiser of the xenc run (default: adamw_torch_fused on GPU, else adamw_torch)",
    )
    parser.add_argument("--kinds", default="stock,xenc")
    parser.add_argument("--layers", type=int, default=12, help="smaller for a CPU smoke run")
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    args = parser.parse_args()
    quiet_libraries()
    import numpy as np
    import torch

    out = Path(tempfile.mkdtemp(prefix="xenc-train-bench-"))
    model_dir = bert_base_from_minilm_vocab(out / "bert-base", layers=args.layers, hidden=args.hidden)
    figures, details = {}, {}
    for setting in args.settings.split(","):
        context = setting == "ctx"
        batch = args.batch_ctx if context else args.batch_noctx
        t = time.perf_counter()
        train, dev = mine_medmentions_pairs(context, args.max_mentions)
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(model_dir))
        lengths = [
            len(x)
            for x in tok(train["query"][:20000], train["candidate"][:20000], truncation=True, max_length=128)[
                "input_ids"
            ]
        ]
        details[setting] = {
            "train_pairs": len(train),
            "dev_pairs": len(dev),
            "batch": batch,
            "mean_tokens": round(float(np.mean(lengths)), 1),
            "p95_tokens": int(np.percentile(lengths, 95)),
            "mining_seconds": round(time.perf_counter() - t, 1),
        }
        needed = batch * args.steps
        if len(train) < needed:
            train = train.shuffle(seed=0)
        train = train.select([i % len(train) for i in range(min(needed, 4 * len(train)))])
        train = train.select_columns(["query", "candidate", "label"])
        dev = dev.select(range(min(4096, len(dev)))).select_columns(["query", "candidate", "label"])
        for kind in args.kinds.split(","):
            try:
                result = run(
                    kind,
                    model_dir,
                    train,
                    dev,
                    batch,
                    args.steps,
                    args.eval_every,
                    args.warmup,
                    out,
                    args.workers,
                    args.xenc_optim,
                )
            except torch.OutOfMemoryError as exc:  # record it and go on: the other figures still count
                import gc

                gc.collect()
                torch.cuda.empty_cache()
                details[setting][kind] = {"error": f"out of memory at batch {batch}: {str(exc)[:200]}"}
                if kind in ("stock", "xenc"):
                    figures[f"{kind}_samples_per_s_{setting}"] = None
                print(setting, kind, "OOM", flush=True)
                continue
            details[setting][kind] = result
            print(setting, kind, result, flush=True)
            if kind in ("stock", "xenc"):
                figures[f"{kind}_samples_per_s_{setting}"] = result["samples_per_s"]
        stock_curve = [loss for _, loss in details[setting].get("stock", {}).get("dev_loss_curve", [])]
        for kind in args.kinds.split(","):
            curve = [loss for _, loss in details[setting].get(kind, {}).get("dev_loss_curve", [])]
            if kind != "stock" and curve and len(curve) == len(stock_curve):
                details[setting][f"max_rel_dev_loss_diff_{kind}_vs_stock"] = round(
                    max(abs(a - b) / a for a, b in zip(stock_curve, curve, strict=True)), 4
                )
        if stock_curve and details[setting].get("xenc", {}).get("dev_loss_curve"):
            xenc_curve = [loss for _, loss in details[setting]["xenc"]["dev_loss_curve"]]
            details[setting]["max_rel_dev_loss_diff"] = details[setting]["max_rel_dev_loss_diff_xenc_vs_stock"]
            if context:
                figures["dev_loss_stock"] = stock_curve[-1]
                figures["dev_loss_xenc"] = xenc_curve[-1]
    figures = {k: figures[k] for k in sorted(figures)}
    details["model"] = {"layers": args.layers, "hidden": args.hidden, "weights": "random (throughput only)"}
    write_result("train_throughput", figures, details, out_dir=args.out)


if __name__ == "__main__":
    main()
