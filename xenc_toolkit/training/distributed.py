"""Multi-process training helpers: rank, world size, barriers (``torchrun`` / ``accelerate launch``).

``xenc train`` runs unchanged under ``torchrun --nproc_per_node N`` or ``accelerate launch``:
the launcher sets ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` and these helpers read them
before the process group exists. After :func:`init_distributed`, they ask ``torch.distributed``
directly. Single-process runs never initialise anything.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


def _initialized() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """Processes in this training run (1 without a launcher)."""
    if _initialized():
        import torch.distributed as dist

        return dist.get_world_size()
    return max(1, int(os.environ.get("WORLD_SIZE", "1") or 1))


def rank() -> int:
    """Global rank of this process (0 without a launcher)."""
    if _initialized():
        import torch.distributed as dist

        return dist.get_rank()
    return int(os.environ.get("RANK", "0") or 0)


def is_main_process() -> bool:
    return rank() == 0


def init_distributed():
    """Join the launcher's process group (NCCL on GPUs, gloo on CPU) and return accelerate's ``PartialState``.

    Returns ``None`` in a single-process run. Idempotent; the trainer's own setup later
    reuses the same process group. On GPUs this also selects ``cuda:LOCAL_RANK``.
    """
    if world_size() <= 1:
        return None
    import torch
    from accelerate import PartialState

    # cpu=True: on a CPU-only host accelerate only forms a (gloo) process group when asked to
    return PartialState(cpu=not torch.cuda.is_available())


def barrier() -> None:
    """Wait for every process (no-op in a single-process run)."""
    state = init_distributed()
    if state is not None:
        state.wait_for_everyone()


@contextmanager
def main_process_first() -> Iterator[None]:
    """Run the block on the main process first, then on the others (dataset ``map`` caches are reused)."""
    state = init_distributed()
    if state is None:
        yield
        return
    with state.main_process_first():
        yield


def broadcast_object(obj, src: int = 0):
    """``obj`` from rank ``src`` on every rank (picklable objects; identity in a single-process run)."""
    if not _initialized() or world_size() <= 1:
        return obj
    import torch
    import torch.distributed as dist

    payload = [obj]
    with torch.inference_mode(False):
        dist.broadcast_object_list(payload, src=src)
    return payload[0]
