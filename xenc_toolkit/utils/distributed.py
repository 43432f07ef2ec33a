"""Sharding inference over the processes of a ``torchrun`` / ``accelerate launch`` job.

``xenc build-index`` and ``xenc link`` split their items (KB names, input mentions) into
contiguous, deterministic shards: process ``r`` of ``n`` takes items ``[r*N//n, (r+1)*N//n)``
and runs them on its own device (``cuda:LOCAL_RANK``, or the CPU); rank 0 gathers the shards in
rank order, which is the input order, and writes the output alone. The launcher's environment
(``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``) says how many processes there are; without a launcher
(or with one process) nothing is initialised and :func:`map_shards` runs the work whole.

::

    with process_group():
        merged = map_shards(embed, names, merge=np.concatenate)  # None on ranks other than 0

The gather goes through ``torch.distributed`` (NCCL on GPUs, gloo on CPU): nothing is written to
a shared disk, so outputs stay atomic and only rank 0 writes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from ..errors import XencError
from .progress import is_quiet, set_quiet

T = TypeVar("T")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise XencError(f"environment variable {name}={value!r} is not an integer (set by torchrun)") from None


def world_size() -> int:
    """Processes of the launch (``WORLD_SIZE``; 1 without a launcher)."""
    return max(1, _env_int("WORLD_SIZE", 1))


def rank() -> int:
    """This process's global rank (``RANK``; 0 without a launcher)."""
    return _env_int("RANK", 0)


def local_rank() -> int:
    """This process's rank on its host (``LOCAL_RANK``): the GPU it uses."""
    return _env_int("LOCAL_RANK", 0)


def is_sharded() -> bool:
    """True when launched as several processes (``torchrun --nproc_per_node N``, N > 1)."""
    return world_size() > 1


def is_main_process() -> bool:
    return rank() == 0


def shard_bounds(n_items: int, shard: int, shards: int) -> tuple[int, int]:
    """``(start, stop)`` of shard ``shard`` of ``shards`` over ``n_items``: contiguous, sizes differ by at most 1."""
    if shards < 1 or not 0 <= shard < shards:
        raise ValueError(f"shard {shard} of {shards}")
    return shard * n_items // shards, (shard + 1) * n_items // shards


def process_device(requested: str | None = None) -> str:
    """The device of this process: ``cuda:LOCAL_RANK`` when GPUs are visible, else the CPU.

    An explicit ``requested`` device other than plain ``'cuda'`` (e.g. ``'cpu'``) is kept as it is.
    """
    import torch

    if requested not in (None, "", "cuda"):
        return str(requested)
    if torch.cuda.is_available():
        return f"cuda:{local_rank() % torch.cuda.device_count()}"
    if requested == "cuda":
        raise XencError("device 'cuda' requested but no CUDA device is visible")
    return "cpu"


@contextmanager
def process_group() -> Iterator[None]:
    """Join the launcher's process group for the block (NCCL with GPUs, gloo without); a no-op for one process.

    Progress output is silenced on ranks other than 0 (rank 0 reports). A group that already
    exists (e.g. created by accelerate) is reused and left alone.
    """
    if not is_sharded():
        yield
        return
    import torch
    import torch.distributed as dist

    created = False
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local_rank() % torch.cuda.device_count())
        dist.init_process_group(backend=backend)
        created = True
    quiet = is_quiet()
    if not is_main_process():
        set_quiet(True)
    try:
        yield
    finally:
        set_quiet(quiet)
        if created:
            dist.destroy_process_group()


def gather_to_main(obj: Any) -> list[Any] | None:
    """Every process's ``obj`` on rank 0, in rank order (``None`` on other ranks; ``[obj]`` for one process)."""
    if not is_sharded():
        return [obj]
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        raise XencError("gather_to_main: run it inside `with process_group():`")
    parts: list[Any] | None = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    with torch.inference_mode(False):
        dist.gather_object(obj, parts, dst=0)
    return parts


def map_shards(fn: Callable[[Sequence[T]], Any], items: Sequence[T], merge: Callable[[list[Any]], Any]) -> Any:
    """``fn`` over this process's shard of ``items``; on rank 0 ``merge`` of every shard's result in order.

    Returns ``merge([fn(items)])``-equivalent output on rank 0 (for one process: ``fn(items)``) and
    ``None`` on the other ranks. Call it inside :func:`process_group` on every rank.
    """
    if not is_sharded():
        return fn(items)
    start, stop = shard_bounds(len(items), rank(), world_size())
    parts = gather_to_main(fn(items[start:stop]))
    return None if parts is None else merge(parts)


def concat_lists(parts: list[list[T]]) -> list[T]:
    """Merge for :func:`map_shards` when each shard's result is a list."""
    return [item for part in parts for item in part]
