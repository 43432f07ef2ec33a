"""What every training run shares: package versions for the record, precision, and the trainer's schedule."""

from __future__ import annotations

import platform
from typing import Any

import numpy as np
import torch

from .. import __version__
from ..errors import XencError


def package_versions() -> dict[str, str]:
    import datasets
    import sentence_transformers
    import transformers

    versions = {
        "xenc_toolkit": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "datasets": datasets.__version__,
        "numpy": np.__version__,
    }
    if torch.cuda.is_available():
        versions["cuda"] = torch.version.cuda or ""
        versions["gpu"] = torch.cuda.get_device_name(0)
    return versions


def resolve_precision(precision: str, on_gpu: bool | None = None) -> str:
    """``'auto'`` -> bf16 (else fp16) on a GPU, fp32 on CPU; half precision on CPU is refused.

    ``on_gpu``: whether the run uses a GPU (default: whether one is available).
    """
    on_gpu = torch.cuda.is_available() if on_gpu is None else on_gpu
    if precision != "auto":
        if precision in ("fp16", "bf16") and not on_gpu:
            raise XencError(f"precision {precision!r} needs a GPU; use 'auto' or 'fp32' on CPU")
        return precision
    if on_gpu:
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def schedule_arguments(
    *,
    learning_rate: float,
    warmup_ratio: float,
    total_steps: int,
    weight_decay: float,
    epochs: float,
    max_steps: int | None,
    precision: str,
    seed: int,
) -> dict[str, Any]:
    """Trainer arguments the cross-encoder and bi-encoder runs share: linear warm-up over a share of
    the updates then linear decay, AdamW weight decay, epochs or a step cap, mixed precision, seeds."""
    return {
        "learning_rate": learning_rate,
        "warmup_steps": int(round(warmup_ratio * total_steps)),
        "lr_scheduler_type": "linear",
        "weight_decay": weight_decay,
        "num_train_epochs": epochs,
        "max_steps": max_steps or -1,
        "bf16": precision == "bf16",
        "fp16": precision == "fp16",
        "seed": seed,
        "data_seed": seed,
    }
