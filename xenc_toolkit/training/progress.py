"""Training progress on the project's rich console instead of the HF trainer's tqdm bar and log dicts.

One bar over the optimiser steps (loss and learning rate in its description) and a line per
evaluation; nothing at all under ``--quiet``. Only the main process draws (the trainer calls
callbacks on every rank; ``state.is_world_process_zero`` tells them apart).
"""

from __future__ import annotations

from transformers import TrainerCallback

from ..utils.progress import is_quiet, log, progress_bar


class RichProgressCallback(TrainerCallback):
    def __init__(self):
        self._context = None
        self._bar = None
        self._done = 0

    def on_train_begin(self, args, state, control, **kwargs):
        if is_quiet() or not state.is_world_process_zero:
            return
        self._context = progress_bar("training", total=state.max_steps)
        self._bar = self._context.__enter__()
        self._done = state.global_step  # a resumed run starts part-way
        if self._done:
            self._bar.advance(self._done)

    def on_step_end(self, args, state, control, **kwargs):
        if self._bar is not None:
            self._bar.advance(state.global_step - self._done)
            self._done = state.global_step

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self._bar is None or not logs:
            return
        if "loss" in logs:
            lr = logs.get("learning_rate")
            lr_text = f" lr {float(lr):.2e}" if lr is not None else ""
            self._bar.update(description=f"training (loss {float(logs['loss']):.4f}{lr_text})")
        metrics = {k[5:]: v for k, v in logs.items() if k.startswith("eval_") and isinstance(v, (int, float))}
        shown = {k: v for k, v in metrics.items() if not k.endswith(("runtime", "per_second"))}
        if shown:
            text = ", ".join(f"{k} {v:.4f}" for k, v in sorted(shown.items()))
            log(f"step {state.global_step}: {text}")

    def on_train_end(self, args, state, control, **kwargs):
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = self._bar = None
