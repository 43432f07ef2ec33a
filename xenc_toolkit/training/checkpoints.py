"""Trainer checkpoints in an output directory: when they are written, which are complete, the newest complete one.

The trainer writes a ``checkpoint-N`` directory file by file (weights, optimiser, scheduler, RNG
states, ``trainer_state.json``); a run killed meanwhile leaves a partial directory. Once the
trainer has finished saving, :class:`CheckpointCallback` fsyncs the checkpoint's files and writes
:data:`MARKER` last (atomically), listing every file with its size; only then does it delete
checkpoints beyond ``save_total_limit`` (the trainer's own rotation is off, so that it never
deletes the last complete checkpoint before the new one is marked). A checkpoint is complete when
its marker exists and every file it lists is there with that size (a checkpoint half-deleted by
the rotation is not), and ``--resume`` takes the newest complete one (:func:`latest_checkpoint`).

The callback also decides when to save besides the trainer's ``save_steps``: after every
evaluation (so the best checkpoint always exists for ``best/``) and whenever ``save_minutes``
have passed since the last checkpoint, so a killed run loses at most that much training.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_utils import rotate_checkpoints

from ..utils.io import atomic_write_json, fsync_tree
from .distributed import broadcast_object

MARKER = "xenc_checkpoint.json"
_NAME = re.compile(r"checkpoint-(\d+)")


def checkpoint_dirs(output_dir: str | Path) -> list[Path]:
    """Every ``checkpoint-N`` directory of ``output_dir``, oldest step first (complete or not)."""
    found = [p for p in Path(output_dir).glob("checkpoint-*") if _NAME.fullmatch(p.name) and p.is_dir()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def mark_complete(checkpoint: str | Path) -> Path:
    """Make a saved checkpoint durable and write its completion marker (last)."""
    checkpoint = Path(checkpoint)
    fsync_tree(checkpoint)
    files = {
        str(p.relative_to(checkpoint)): p.stat().st_size
        for p in sorted(checkpoint.rglob("*"))
        if p.is_file() and p.name != MARKER and not p.name.startswith(".")
    }
    step = int(checkpoint.name.split("-")[1])
    return atomic_write_json(checkpoint / MARKER, {"step": step, "files": files})


def _legacy_complete(checkpoint: Path) -> bool:
    """A checkpoint of a run from before markers: complete if ``trainer_state.json`` (written last) parses."""
    try:
        with open(checkpoint / "trainer_state.json", encoding="utf-8") as handle:
            json.load(handle)
    except (OSError, ValueError):
        return False
    return True


def is_complete(checkpoint: str | Path) -> bool:
    """The checkpoint's marker exists and every file it lists is there with the listed size."""
    checkpoint = Path(checkpoint)
    try:
        with open(checkpoint / MARKER, encoding="utf-8") as handle:
            files = json.load(handle)["files"]
        return bool(files) and all((checkpoint / name).stat().st_size == size for name, size in files.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def complete_checkpoints(output_dir: str | Path) -> list[Path]:
    """The complete checkpoints of ``output_dir``, oldest first.

    In a directory where no checkpoint has a marker (a run from before markers), a checkpoint
    counts as complete when its ``trainer_state.json``, which the trainer writes last, parses.
    """
    found = checkpoint_dirs(output_dir)
    if not any((p / MARKER).exists() for p in found):
        return [p for p in found if _legacy_complete(p)]
    return [p for p in found if is_complete(p)]


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest complete checkpoint of ``output_dir`` (None when there is none)."""
    complete = complete_checkpoints(output_dir)
    return complete[-1] if complete else None


class CheckpointCallback(TrainerCallback):
    """Marks each saved checkpoint complete, then keeps the newest ``keep`` (and the best); saves after
    every evaluation and every ``save_minutes``."""

    def __init__(self, save_minutes: float | None = None, keep: int | None = None):
        self.interval = save_minutes * 60 if save_minutes else None
        self.keep = keep
        self._last = time.monotonic()

    def on_train_begin(self, args, state, control, **kwargs):
        self._last = time.monotonic()

    def on_step_end(self, args, state, control, **kwargs):
        if self.interval is None or control.should_save:
            return
        # every process must take the same decision (saving has collective steps under DDP): the main one's
        due = broadcast_object(time.monotonic() - self._last >= self.interval)
        if due:
            control.should_save = True

    def on_evaluate(self, args, state, control, **kwargs):
        control.should_save = True  # the evaluated weights may be the best: keep them for best/

    def on_save(self, args, state, control, **kwargs):
        self._last = time.monotonic()
        checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if state.is_world_process_zero and checkpoint.is_dir():
            mark_complete(checkpoint)
            rotate_checkpoints(args.output_dir, self.keep, best_model_checkpoint=state.best_model_checkpoint)
