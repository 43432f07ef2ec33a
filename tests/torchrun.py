"""Helpers of the multi-process CLI tests (test_ddp, test_distributed): torchrun on CPU with gloo."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
import torch.distributed

ROOT = Path(__file__).resolve().parents[1]


def torchrun_available() -> bool:
    return (
        importlib.util.find_spec("torch.distributed.run") is not None
        and torch.distributed.is_available()
        and torch.distributed.is_gloo_available()
    )


needs_torchrun = pytest.mark.skipif(not torchrun_available(), reason="torchrun / the gloo backend is not available")


def cpu_env(quiet: bool) -> dict[str, str]:
    """The environment of a CPU-only run of this checkout (gloo), one thread per process."""
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS="1",
        TOKENIZERS_PARALLELISM="false",
        XENC_QUIET="1" if quiet else "0",
        CUDA_VISIBLE_DEVICES="",
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
    )
    return env


def torchrun(processes: int) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
