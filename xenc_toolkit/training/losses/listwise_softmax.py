"""Listwise softmax cross-entropy over each mention's candidate list."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._inputs import list_logits
from .registry import LOSSES


@LOSSES.register("listwise", order=1, inputs="lists", options=())
class ListwiseSoftmaxLoss(nn.Module):
    """For each mention: ``-log(sum_{gold} softmax(scores / T))`` over its candidate list.

    The candidates compete with each other for the mention, which is exactly the
    reranking decision made at inference. Mentions with several gold concepts
    (composite mentions) put probability mass on any of them. Lists without a gold
    are ignored.

    Inputs: ``(query, [candidate_1, ..., candidate_n])`` with labels ``[y_1, ..., y_n]`` (1 = gold),
    or pre-tokenised lists (see :class:`~xenc_toolkit.training.data.PretokenizedListCollator`).
    """

    def __init__(self, model, temperature: float = 1.0):
        super().__init__()
        self.model = model
        self.temperature = temperature

    def forward(self, inputs, labels, prompt: str | None = None, task: str | None = None) -> Tensor:
        logits, targets, mask = list_logits(self.model, inputs, labels, prompt=prompt, task=task)
        logits = logits / self.temperature
        positive = mask & (targets > 0)
        has_gold = positive.any(dim=1)
        if not has_gold.any():
            return logits[mask].sum() * 0.0
        all_lse = torch.logsumexp(logits, dim=1)
        gold_lse = torch.logsumexp(logits.masked_fill(~positive, float("-inf")), dim=1)
        return (all_lse - gold_lse)[has_gold].mean()

    def get_config_dict(self) -> dict:
        return {"temperature": self.temperature}
