"""Binary cross-entropy with a positive-class weight and per-example (per-negative-kind) weights."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._inputs import is_pretokenized, pair_logits
from .registry import LOSSES


@LOSSES.register("bce", order=0, inputs="pairs", options=("pos_weight",))
class WeightedBinaryCrossEntropyLoss(nn.Module):
    """``BCEWithLogits`` over (mention, candidate) pairs, as sentence-transformers' ``BinaryCrossEntropyLoss``,
    plus optional example weights.

    Weights come from a ``weight`` column (set from ``kind_weights`` by the trainer, e.g.
    ``{"hard": 1.0, "type": 0.5, "random": 0.25}``); the loss is the weighted mean
    ``sum(w * l) / sum(w)`` so its scale does not depend on the weights' average.

    Args:
        model: the CrossEncoder (``num_labels=1``).
        pos_weight: weight of positive examples (as ``BCEWithLogitsLoss(pos_weight=...)``).
    """

    def __init__(self, model, pos_weight: float | None = None):
        super().__init__()
        self.model = model
        self.pos_weight = pos_weight
        if model.num_labels != 1:
            raise ValueError(f"{type(self).__name__} needs a CrossEncoder with num_labels=1, not {model.num_labels}")

    def forward(self, inputs, labels: Tensor, prompt: str | None = None, task: str | None = None) -> Tensor:
        weights = None
        if is_pretokenized(inputs):
            weights = inputs[0].get("weight")
        elif len(inputs) == 3:
            weights = torch.as_tensor(inputs[2], dtype=torch.float32)
            inputs = inputs[:2]
        logits = pair_logits(self.model, inputs, prompt=prompt, task=task)
        labels = labels.to(logits.device).float().view(-1)
        pos_weight = None if self.pos_weight is None else torch.tensor(self.pos_weight, device=logits.device)
        losses = nn.functional.binary_cross_entropy_with_logits(logits, labels, pos_weight=pos_weight, reduction="none")
        if weights is None:
            return losses.mean()
        weights = weights.to(logits.device).float().view(-1)
        return (losses * weights).sum() / weights.sum().clamp(min=1e-8)

    def get_config_dict(self) -> dict:
        return {"pos_weight": self.pos_weight}
