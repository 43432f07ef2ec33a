"""``XencCrossEncoderTrainer``: the sentence-transformers ``CrossEncoderTrainer`` with a fast data path.

It is the stock trainer (same optimiser, scheduler, callbacks, checkpoints,
evaluators, DDP through accelerate), with three additions that only change how
batches are built:

* datasets carrying pre-tokenised ``input_ids`` are passed to the loss as one
  features dict (no tokenisation inside the training step);
* training batches are drawn by :class:`~xenc_toolkit.training.data.LengthGroupedBatchSampler`
  (similar lengths, little padding), evaluation batches in length order; with
  ``micro_batches=k`` (and ``k`` gradient-accumulation steps) each update is one uniformly random
  batch processed as ``k`` length-sorted micro-batches instead;
* everything else (text columns) behaves exactly as in the stock trainer.

Under ``torchrun`` / ``accelerate launch`` (DDP) the evaluator runs once per evaluation, on
the main process, and every process receives its metrics (see :class:`MainProcessEvaluator`),
so early stopping and the best-checkpoint choice are the same on every rank.
"""

from __future__ import annotations

import traceback

from sentence_transformers.cross_encoder import CrossEncoderTrainer
from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator

from .data import LengthGroupedBatchSampler
from .distributed import broadcast_object, is_main_process, world_size


class MainProcessEvaluator(SentenceEvaluator):
    """Runs an evaluator once per evaluation, on the main process, and gives every process its metrics.

    sentence-transformers >= 6.2 already does so in its trainer: it calls the evaluator on
    rank 0 only (the other ranks serve the ``model.predict`` calls it makes) and broadcasts the
    metrics; the wrapper then passes straight through (it recognises that mode by the model's
    ``_distributed_inference`` hook being set). Earlier trainers (6.0, 6.1) call the evaluator
    on *every* rank, each scoring the whole dev set and appending to the same CSV; there, rank 0
    evaluates, the others wait and receive rank 0's metrics (or its error, re-raised everywhere
    instead of leaving the other ranks blocked). Single-process runs call the evaluator directly.

    Not for FSDP / DeepSpeed, whose sharded models need every rank in each forward pass.
    """

    def __init__(self, evaluator):  # no super().__init__(): the attributes below belong to the wrapped evaluator
        self.evaluator = evaluator

    @property
    def primary_metric(self):
        return getattr(self.evaluator, "primary_metric", None)

    @primary_metric.setter
    def primary_metric(self, value) -> None:
        self.evaluator.primary_metric = value

    @property
    def greater_is_better(self) -> bool:
        return getattr(self.evaluator, "greater_is_better", True)

    @greater_is_better.setter
    def greater_is_better(self, value: bool) -> None:
        self.evaluator.greater_is_better = value

    @property
    def description(self) -> str:
        return self.evaluator.description

    def get_config_dict(self):
        return self.evaluator.get_config_dict()

    def __getattr__(self, name):
        if name == "evaluator":  # not set yet (e.g. while unpickling)
            raise AttributeError(name)
        return getattr(self.evaluator, name)

    def __call__(self, model, output_path: str | None = None, epoch: int = -1, steps: int = -1):
        if world_size() <= 1 or getattr(model, "_distributed_inference", None) is not None:
            return self.evaluator(model, output_path=output_path, epoch=epoch, steps=steps)
        payload, error = None, None
        if is_main_process():
            try:
                payload = ("metrics", self.evaluator(model, output_path=output_path, epoch=epoch, steps=steps))
            except BaseException as exc:
                payload, error = ("error", traceback.format_exc()), exc
        kind, value = broadcast_object(payload)
        if error is not None:
            raise error
        if kind == "error":
            raise RuntimeError(f"the evaluator failed on the main process:\n{value}")
        return value


class XencCrossEncoderTrainer(CrossEncoderTrainer):
    def __init__(
        self,
        *args,
        length_grouped: bool = True,
        micro_batches: int = 1,
        length_granularity: int | str = "auto",
        **kwargs,
    ):
        self.length_grouped = length_grouped
        self.micro_batches = micro_batches
        self.length_granularity = length_granularity
        self._dataloader_kind = "train"
        super().__init__(*args, **kwargs)
        if (
            self.evaluator is not None
            and self.args.world_size > 1
            and not isinstance(self.evaluator, MainProcessEvaluator)
            and not (self.is_fsdp_enabled or self.is_deepspeed_enabled)
        ):
            self.evaluator = MainProcessEvaluator(self.evaluator)

    def collect_features(self, inputs):
        if "input_ids" in inputs:
            labels = inputs.pop("label", None)
            return [inputs], labels
        return super().collect_features(inputs)

    def _build_dataloader(self, dataset, batch_size, dataset_kind):
        self._dataloader_kind = dataset_kind
        return super()._build_dataloader(dataset, batch_size, dataset_kind)

    def get_batch_sampler(self, dataset, batch_size, drop_last, valid_label_columns=None, generator=None, seed=0):
        columns = getattr(dataset, "column_names", None) or []
        if self.length_grouped and "length" in columns:
            return LengthGroupedBatchSampler(
                dataset,
                batch_size=batch_size,
                drop_last=drop_last,
                valid_label_columns=valid_label_columns,
                generator=generator,
                seed=seed,
                shuffle=self._dataloader_kind == "train",
                micro=self.micro_batches if self._dataloader_kind == "train" else 1,
                granularity=self.length_granularity,
            )
        return super().get_batch_sampler(dataset, batch_size, drop_last, valid_label_columns, generator, seed)
