"""Multi-GPU training: DDP throughput on 1 and 2 GPUs and dev acc@1 of both, at the same global batch.

    python benchmarks/multi_gpu.py                 # >= 2 CUDA GPUs: about 4-5 minutes on 2 H100s
    python benchmarks/multi_gpu.py --cpu-smoke     # the same flow on CPU (gloo), tiny sizes

1. Mining (once, in this process): ``--max-mentions`` real MedMentions mentions (the dev BIO
   release, +-16 words of context), a surface-form KB of them, all-MiniLM-L6-v2 dense candidates
   (16 per mention), positive + 5 hard + 1 same-type + 1 random negative per mention; 95% of the
   mentions train, 5% are the dev split. Written with ``save_mining`` as ``xenc mine`` does.
2. Throughput: ``xenc_toolkit.commands.train.train`` (the code behind ``xenc train``: the xenc
   trainer, pre-tokenised length-grouped batches) on a BERT-base-sized model (12 x 768, random
   weights, MiniLM's vocabulary; speed does not depend on the weights), BCE pairs, bf16, launched
   with ``torchrun --nproc_per_node 1`` and ``N``. Data-parallel scaling keeps the batch of each
   GPU (``--throughput-batch`` pairs per GPU, so N GPUs take N times the global batch): scaling
   efficiency = samples/s on N GPUs / (N x samples/s on 1 GPU). The same global batch split over
   N GPUs (``--throughput-batch / N`` each) is measured too and reported in the details.
   samples/s counts training steps only, after the first ``--warmup`` steps (``StepClock`` of
   ``train_throughput.py``); nothing is evaluated or checkpointed before the last step (the
   trainer does both once after it, untimed).
3. Quality: the real all-MiniLM-L6-v2 as cross-encoder base, listwise loss, ``--quality-steps``
   optimiser steps at the same global batch (``global_batch_size`` = ``--quality-batch``
   mentions) on 1 and on N GPUs: each update's batch is drawn whole and split between the GPUs,
   so both runs train on the same mentions in the same order; dev acc@1 is the in-training
   ``LinkingEvaluator``'s at the last step (dev candidate lists, mentions whose gold is not a
   candidate count as misses).

Every run is a ``torchrun`` subprocess (``python -m torch.distributed.run --standalone``) of
this script in ``--worker`` mode; it inherits the environment (``PYTHONPATH`` gets the repository
root added) with ``NCCL_NVLS_ENABLE=0`` (NVLink multicast stays off). A failed run stops the
benchmark with its exit code. Writes ``benchmarks/results/multi_gpu.json`` (``--cpu-smoke``:
``<work dir>/multi_gpu.json`` unless ``--out`` is given).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    ROOT,
    bert_base_from_minilm_vocab,
    mine_medmentions,
    minilm_path,
    quiet_libraries,
    write_result,
)

SCALING_GOAL = 0.85


def say(message: str) -> None:
    print(f"[multi_gpu {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------- data
def mine_pairs(out: Path, max_mentions: int, seed: int = 0) -> dict:
    """MedMentions pairs + candidate lists in ``out`` (the layout ``xenc mine`` writes)."""
    import gc

    import torch

    from xenc_toolkit.api import save_mining

    t = time.perf_counter()
    result, kb, index, cfg, split = mine_medmentions(True, max_mentions, seed, kb_from_sample=True)
    cfg = cfg.model_copy(update={"output_dir": out})
    n_mentions = len(result.candidates["train"]) + len(result.candidates["dev"])
    save_mining(result, out, config=cfg, index_manifest=index.manifest)
    info = {
        "mentions": n_mentions,
        "train_mentions": split,
        "dev_mentions": n_mentions - split,
        "kb_names": kb.n_names,
        "train_pairs": len(result.pairs["train"]),
        "dev_pairs": len(result.pairs["dev"]),
        "mining_seconds": round(time.perf_counter() - t, 1),
    }
    del index, result
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()  # the training subprocesses get the GPUs
    return info


# --------------------------------------------------------------------------- one torchrun launch
def launch(n_procs: int, spec: dict, work: Path, name: str) -> dict:
    """Run ``spec`` under ``torchrun --nproc_per_node n_procs``; returns what rank 0 reported."""
    spec_path = work / f"{name}.spec.json"
    result_path = work / f"{name}.result.json"
    spec = {**spec, "result": str(result_path)}
    spec_path.write_text(json.dumps(spec, indent=1))
    result_path.unlink(missing_ok=True)
    env = dict(os.environ)
    env["NCCL_NVLS_ENABLE"] = "0"  # NVLink multicast must stay off
    env.setdefault("OMP_NUM_THREADS", "1" if spec.get("cpu") else "4")
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(ROOT) not in paths:
        paths.append(str(ROOT))
    env["PYTHONPATH"] = os.pathsep.join(paths)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        str(n_procs),
        str(Path(__file__).resolve()),
        "--worker",
        str(spec_path),
    ]
    train = spec["train"]
    batch = (
        f"global batch {train['global_batch_size']}"
        if "global_batch_size" in train
        else f"batch {train['batch_size']} per device"
    )
    say(f"{name}: torchrun --nproc_per_node {n_procs} ({batch})")
    t = time.perf_counter()
    proc = subprocess.run(command, env=env, cwd=str(ROOT))
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"multi_gpu: run {name!r} failed (torchrun exit code {proc.returncode}); see its output above")
    if not result_path.exists():
        raise SystemExit(f"multi_gpu: run {name!r} exited 0 but rank 0 wrote no result ({result_path})")
    result = json.loads(result_path.read_text())
    result["wall_seconds"] = round(seconds, 1)
    say(f"{name}: done in {seconds:.0f} s: {json.dumps({k: v for k, v in result.items() if k != 'dev_curve'})}")
    return result


def worker(spec_path: str) -> None:
    """One training run inside torchrun (every rank); rank 0 writes the result JSON."""
    spec = json.loads(Path(spec_path).read_text())
    quiet_libraries()
    from benchmarks.train_throughput import StepClock
    from xenc_toolkit.api import is_main_process, train, world_size
    from xenc_toolkit.config import TrainConfig

    cfg = TrainConfig(**spec["train"])
    clock = StepClock(spec.get("warmup", 0))
    summary = train(cfg, callbacks=[clock.callback])
    if not is_main_process():
        return
    evals = [h for h in summary["log_history"] if "eval_dev_acc@1" in h]
    result = {
        "processes": world_size(),
        "per_device_batch": summary["per_device_batch_size"],
        "global_batch": summary["global_batch_size"],
        "steps": summary["global_step"],
        "trainer_samples_per_s": summary["train_samples_per_second"],
        "train_runtime_s": summary["train_runtime"],
    }
    if spec.get("measure_throughput"):
        # (the trainer's own figure includes warm-up and the evaluation + checkpoint it adds after the last step)
        result["samples_per_s"] = round(
            clock.samples_per_second(summary["global_step"], summary["global_batch_size"]), 1
        )
    elif evals:
        result["dev_acc1"] = round(evals[-1]["eval_dev_acc@1"], 4)
        result["dev_acc1_step"] = evals[-1]["step"]
        result["dev_curve"] = [(h["step"], round(h["eval_dev_acc@1"], 4)) for h in evals]
    Path(spec["result"]).write_text(json.dumps(result, indent=1))


# --------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", metavar="SPEC", help=argparse.SUPPRESS)
    parser.add_argument("--cpu-smoke", action="store_true", help="the same flow on CPU (gloo) with tiny sizes")
    parser.add_argument("--gpus", type=int, default=2, help="the multi-GPU run's processes (default 2)")
    parser.add_argument("--parts", default="throughput,quality", help="throughput, quality or both")
    parser.add_argument("--max-mentions", type=int, default=None, help="mentions mined (default 20000; smoke 400)")
    parser.add_argument("--throughput-steps", type=int, default=None, help="default 120 (smoke 6)")
    parser.add_argument("--warmup", type=int, default=None, help="steps not timed (default 20; smoke 2)")
    parser.add_argument("--throughput-batch", type=int, default=None, help="pairs per GPU per step (default 1024)")
    parser.add_argument("--layers", type=int, default=None, help="throughput model layers (default 12; smoke 2)")
    parser.add_argument("--hidden", type=int, default=None, help="throughput model width (default 768; smoke 64)")
    parser.add_argument("--quality-steps", type=int, default=None, help="default 300 (smoke 6)")
    parser.add_argument("--quality-eval-every", type=int, default=None, help="default 150 (smoke 3)")
    parser.add_argument("--quality-batch", type=int, default=None, help="global mentions/step (default 32)")
    parser.add_argument("--list-size", type=int, default=8, help="candidates per mention (listwise)")
    parser.add_argument("--lr", type=float, default=5e-5, help="quality runs' peak learning rate")
    parser.add_argument("--workers", type=int, default=None, help="data-loader workers per process (default 4)")
    parser.add_argument("--acc-tolerance", type=float, default=0.02, help="|dev acc@1 difference| called 'same'")
    parser.add_argument("--work", default=None, help="work folder (default: a new temporary one)")
    parser.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return

    smoke = args.cpu_smoke
    defaults = {
        "max_mentions": (20000, 400),
        "throughput_steps": (120, 6),
        "warmup": (20, 2),
        "throughput_batch": (1024, 16),
        "layers": (12, 2),
        "hidden": (768, 64),
        "quality_steps": (300, 6),
        "quality_eval_every": (150, 3),
        "quality_batch": (32, 4),
        "workers": (4, 0),
    }
    for key, (gpu_value, smoke_value) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, smoke_value if smoke else gpu_value)
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if not parts or parts - {"throughput", "quality"}:
        raise SystemExit(f"--parts: expected throughput and/or quality, got {args.parts!r}")
    n = args.gpus
    if n < 2:
        raise SystemExit("--gpus: the multi-GPU run needs at least 2 processes")
    for label, batch in (("--throughput-batch", args.throughput_batch), ("--quality-batch", args.quality_batch)):
        if batch % n:
            raise SystemExit(f"{label} {batch} is not a multiple of --gpus {n} (the global batch is split evenly)")
    if args.warmup >= args.throughput_steps:
        raise SystemExit("--warmup must be smaller than --throughput-steps")

    os.environ["NCCL_NVLS_ENABLE"] = "0"
    if smoke:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # gloo on CPU, even on a GPU machine (set before torch looks)
    quiet_libraries()
    import torch

    if smoke:
        card_name = None
    else:
        if not torch.cuda.is_available() or torch.cuda.device_count() < n:
            found = torch.cuda.device_count() if torch.cuda.is_available() else 0
            raise SystemExit(f"multi_gpu: needs {n} CUDA GPUs, found {found} (use --cpu-smoke to check the flow)")
        card_name = f"{n} x {torch.cuda.get_device_name(0)}"
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="xenc-multi-gpu-"))
    work.mkdir(parents=True, exist_ok=True)
    say(f"work folder {work}; {'CPU smoke run (gloo)' if smoke else card_name}")
    started = time.perf_counter()

    pairs = work / "pairs"
    say(f"mining {args.max_mentions:,} MedMentions mentions ...")
    data = mine_pairs(pairs, args.max_mentions)
    say(f"mined: {data}")

    figures: dict = {"gpus": n}
    details: dict = {"data": data, "nccl_nvls_enable": "0", "versions": {"torch": torch.__version__}}
    common = {"pairs_dir": str(pairs), "report_to": ["none"], "seed": 0, "dataloader_workers": args.workers}
    if "throughput" in parts:
        model_dir = bert_base_from_minilm_vocab(work / "bert-base", layers=args.layers, hidden=args.hidden)
        runs = {}
        # (processes, pairs per GPU): 1 GPU; N GPUs with the same batch each; N GPUs sharing one global batch
        layouts = [(1, args.throughput_batch), (n, args.throughput_batch), (n, args.throughput_batch // n)]
        for procs, per_device in layouts:
            spec = {
                "cpu": smoke,
                "warmup": args.warmup,
                "measure_throughput": True,
                "train": {
                    **common,
                    "output_dir": str(work / f"throughput-{procs}-{per_device}"),
                    "base_model": str(model_dir),
                    "max_length": 128,
                    "loss": "bce",
                    "batch_size": per_device,
                    "learning_rate": 2e-5,
                    "max_steps": args.throughput_steps,
                    "eval_steps": args.throughput_steps + 1,  # none while timed (the trainer adds one at the end)
                    "save_total_limit": 1,
                    "max_eval_mentions": 1,
                },
            }
            runs[(procs, per_device)] = launch(procs, spec, work, f"throughput-{procs}proc-{per_device}")
        one, many = runs[layouts[0]]["samples_per_s"], runs[layouts[1]]["samples_per_s"]
        shared = runs[layouts[2]]["samples_per_s"]
        figures["samples_per_s_1gpu"] = one
        figures[f"samples_per_s_{n}gpu"] = many
        figures[f"scaling_efficiency_{n}gpu"] = round(many / (n * one), 3)
        details["throughput"] = {
            "model": f"BERT ({args.layers} x {args.hidden}), random weights, MiniLM vocabulary",
            "loss": "bce pairs, with context",
            "batch_per_gpu": args.throughput_batch,
            "steps": args.throughput_steps,
            "warmup_steps_not_timed": args.warmup,
            "precision": "fp32 (CPU)" if smoke else "bf16",
            "runs": {
                f"{procs}_process_batch_{per_device}_per_gpu": runs[(procs, per_device)]
                for procs, per_device in layouts
            },
            "same_global_batch": {
                "global_batch": args.throughput_batch,
                f"samples_per_s_{n}gpu": shared,
                f"scaling_efficiency_{n}gpu": round(shared / (n * one), 3),
                "note": f"{args.throughput_batch} pairs per step split over {n} GPUs ({args.throughput_batch // n} each): "
                "each GPU's share is smaller than the 1-GPU batch, so fixed per-step costs weigh more",
            },
            "goal": f"scaling efficiency >= {SCALING_GOAL} on {n} GPUs",
            "goal_met": figures[f"scaling_efficiency_{n}gpu"] >= SCALING_GOAL,
        }
    if "quality" in parts:
        runs = {}
        for procs in (1, n):
            spec = {
                "cpu": smoke,
                "train": {
                    **common,
                    "output_dir": str(work / f"quality-{procs}"),
                    "base_model": minilm_path(),
                    "max_length": 128,
                    "loss": "listwise",
                    "list_size": args.list_size,
                    "global_batch_size": args.quality_batch,
                    "learning_rate": args.lr,
                    "max_steps": args.quality_steps,
                    "eval_steps": args.quality_eval_every,
                    "save_total_limit": 1,
                    "max_eval_mentions": 2000,
                },
            }
            runs[procs] = launch(procs, spec, work, f"quality-{procs}proc")
        for procs in (1, n):
            if runs[procs].get("dev_acc1_step") != args.quality_steps:
                raise SystemExit(f"multi_gpu: the {procs}-process quality run reported no dev acc@1 at its last step")
        figures["dev_acc1_1gpu"] = runs[1]["dev_acc1"]
        figures[f"dev_acc1_{n}gpu"] = runs[n]["dev_acc1"]
        difference = round(abs(runs[1]["dev_acc1"] - runs[n]["dev_acc1"]), 4)
        details["quality"] = {
            "model": "all-MiniLM-L6-v2 (real weights) as cross-encoder base",
            "loss": f"listwise softmax over {args.list_size} candidates, with context",
            "global_batch_mentions": args.quality_batch,
            "steps": args.quality_steps,
            "learning_rate": args.lr,
            "runs": {f"{k}_process": v for k, v in runs.items()},
            "note": "the KB holds the surface forms of all sampled mentions (dev included): the figures compare "
            "1- and N-GPU training, they are not a linking benchmark; both runs train on the same mentions "
            "in the same order (global_batch_size: each batch drawn whole and split between the GPUs)",
            "abs_dev_acc1_difference": difference,
            "tolerance": args.acc_tolerance,
            "same_dev_acc1": difference <= args.acc_tolerance,
        }
    details["wall_seconds"] = round(time.perf_counter() - started, 1)
    if smoke:
        details["note"] = "CPU smoke run (gloo, tiny sizes): checks the flow, not a measurement"
    out_dir = args.out or (str(work) if smoke else None)
    path = write_result("multi_gpu", figures, details, out_dir=Path(out_dir) if out_dir else None, card_name=card_name)
    say(f"wrote {path} in {details['wall_seconds']:.0f} s")
    if "throughput" in details:
        met = "met" if details["throughput"]["goal_met"] else "NOT met"
        say(f"scaling efficiency on {n}: {figures[f'scaling_efficiency_{n}gpu']} (goal {SCALING_GOAL}: {met})")
    if "quality" in details:
        same = "same" if details["quality"]["same_dev_acc1"] else "DIFFERENT"
        say(f"dev acc@1 1 vs {n}: {figures['dev_acc1_1gpu']} vs {figures[f'dev_acc1_{n}gpu']} ({same})")


if __name__ == "__main__":
    main()
