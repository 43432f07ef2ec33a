"""A heads-up before training on a CPU: roughly how long and how much memory, and that a GPU is advised.

Time: a step of ``T`` tokens costs ``T x (SECONDS_PER_TOKEN + 6 x P / FLOPS_PER_CPU_SECOND)``
CPU-seconds, ``P`` the non-embedding parameters (forward and backward through them: about
``6 x P x T`` floating-point operations) plus a per-token cost of everything else; the wall time
is that divided by the threads. Memory: the process itself, 16 bytes per parameter (fp32 weights,
gradients and AdamW's two moments) and the activations kept for the backward pass, per token and
per layer x hidden unit. The constants were fitted to two models measured with
``benchmarks/cpu_train_step.py`` on 2 CPU cores (``benchmarks/results/cpu_train_step.json``:
all-MiniLM-L6-v2 and a BERT-base-sized model, the quickstart's listwise batches of 16 x 8 pairs):
both are reproduced within 1%. Other CPUs and shapes differ: a rough guide, not a promise.
"""

from __future__ import annotations

import math

import torch

FLOPS_PER_CPU_SECOND = 3.3e10  # fp32 training throughput of the dense layers, per CPU-second
SECONDS_PER_TOKEN = 1.8e-3  # CPU-seconds per token of the rest (attention, norms, embeddings, optimiser)
BASE_BYTES = 0.8e9  # resident memory of the training process before the model and its optimiser state
ACTIVATION_BYTES = 195.0  # bytes kept for the backward pass per token and per (layer x hidden unit)


def trainable_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(all trainable parameters, those outside embedding tables)."""
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    embeddings = sum(
        m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding) and m.weight.requires_grad
    )
    return total, total - embeddings


def estimate(model: torch.nn.Module, tokens_per_step: float, steps: int, threads: int | None = None) -> dict:
    """Seconds per step, total minutes and peak memory (GB) of ``steps`` CPU steps of ``tokens_per_step`` tokens."""
    threads = threads or torch.get_num_threads()
    total, dense = trainable_parameters(model)
    config = getattr(model, "config", None)
    layers = getattr(config, "num_hidden_layers", 12) or 12
    hidden = getattr(config, "hidden_size", 768) or 768
    seconds = tokens_per_step * (SECONDS_PER_TOKEN + 6.0 * dense / FLOPS_PER_CPU_SECOND) / max(1, threads)
    memory = BASE_BYTES + 16.0 * total + ACTIVATION_BYTES * tokens_per_step * layers * hidden
    return {
        "seconds_per_step": seconds,
        "minutes": seconds * steps / 60.0,
        "memory_gb": memory / 1e9,
        "parameters": total,
        "threads": threads,
        "steps": steps,
        "tokens_per_step": tokens_per_step,
    }


def heads_up(model: torch.nn.Module, tokens_per_step: float, steps: int, threads: int | None = None) -> str:
    """One line for the log: the estimate and the advice to use a GPU."""
    e = estimate(model, tokens_per_step, steps, threads)
    minutes = e["minutes"]
    total = f"{minutes:.0f} min" if minutes >= 1 else f"{math.ceil(minutes * 60)} s"
    return (
        f"training on the CPU ({e['threads']} threads): about {e['seconds_per_step']:.1f} s per step x {steps:,} "
        f"steps = {total}, about {e['memory_gb']:.1f} GB of memory (a rough estimate for "
        f"{e['parameters'] / 1e6:.0f}M parameters and {tokens_per_step:,.0f} tokens a step); a GPU is advised "
        "(README: Expected time and memory)"
    )
