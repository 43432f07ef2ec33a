"""``XencCrossEncoderTrainer``: the sentence-transformers ``CrossEncoderTrainer`` with a fast data path.

It is the stock trainer (same optimiser, scheduler, callbacks, checkpoints,
evaluators, DDP through accelerate), with three additions that only change how
batches are built:

* datasets carrying pre-tokenised ``input_ids`` are passed to the loss as one
  features dict (no tokenisation inside the training step);
* training batches are drawn by :class:`~xenc_toolkit.training.data.LengthGroupedBatchSampler`
  (similar lengths, little padding), evaluation batches in length order;
* everything else (text columns) behaves exactly as in the stock trainer.
"""

from __future__ import annotations

from sentence_transformers.cross_encoder import CrossEncoderTrainer

from .data import LengthGroupedBatchSampler


class XencCrossEncoderTrainer(CrossEncoderTrainer):
    def __init__(self, *args, length_grouped: bool = True, **kwargs):
        self.length_grouped = length_grouped
        self._dataloader_kind = "train"
        super().__init__(*args, **kwargs)

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
            )
        return super().get_batch_sampler(dataset, batch_size, drop_last, valid_label_columns, generator, seed)
