"""LambdaLoss (NDCG-Loss2++) over candidate lists, for pre-tokenised or text inputs.

The ranking maths follows sentence-transformers' ``LambdaLoss`` (Apache-2.0;
Wang et al., "The LambdaLoss Framework for Ranking Metric Optimization", CIKM 2018),
applied to the padded logit matrix built by :func:`._inputs.list_logits`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ._inputs import list_logits
from .registry import LOSSES


@LOSSES.register("lambda", order=2, inputs="lists", options=())
class ListwiseLambdaLoss(nn.Module):
    def __init__(
        self,
        model,
        weighting_scheme: nn.Module | None = None,
        k: int | None = None,
        sigma: float = 1.0,
        eps: float = 1e-10,
    ):
        super().__init__()
        self.model = model
        if weighting_scheme is None:
            from sentence_transformers.cross_encoder.losses import NDCGLoss2PPScheme

            weighting_scheme = NDCGLoss2PPScheme()
        self.weighting_scheme = weighting_scheme
        self.k = k
        self.sigma = sigma
        self.eps = eps

    def forward(self, inputs, labels, prompt: str | None = None, task: str | None = None) -> Tensor:
        logits, targets, mask = list_logits(self.model, inputs, labels, prompt=prompt, task=task)
        n_docs = logits.shape[1]
        logits = logits.masked_fill(~mask, -1e16)
        targets = targets.masked_fill(~mask, float("-inf"))
        logits_sorted, order = logits.sort(descending=True, dim=-1)
        targets_sorted, _ = targets.sort(descending=True, dim=-1)
        true_by_pred = torch.gather(targets, 1, order)
        diffs = true_by_pred[:, :, None] - true_by_pred[:, None, :]
        pair_mask = torch.isfinite(diffs) & (diffs > 0)
        k = self.k or n_docs
        top_k = torch.zeros((n_docs, n_docs), dtype=torch.bool, device=logits.device)
        top_k[:k, :] = True
        top_k[:, :k] = True
        true_by_pred = true_by_pred.clamp(min=0.0)
        targets_sorted = targets_sorted.clamp(min=0.0)
        discount = torch.log2(1.0 + torch.arange(1, n_docs + 1, device=logits.device).float())[None, :]
        max_dcg = torch.sum(((torch.pow(2, targets_sorted) - 1) / discount)[:, :k], dim=-1).clamp(min=self.eps)
        gain = (torch.pow(2, true_by_pred) - 1) / max_dcg[:, None]
        weights = self.weighting_scheme(gain, discount, true_by_pred)
        score_diffs = (logits_sorted[:, :, None] - logits_sorted[:, None, :]).clamp(min=-1e8, max=1e8)
        score_diffs = score_diffs.masked_fill(torch.isnan(score_diffs), 0.0)
        losses = weights * nn.functional.logsigmoid(self.sigma * score_diffs) / math.log(2)
        selected = losses[pair_mask & top_k]
        return -selected.sum() / max(selected.numel(), 1)

    def get_config_dict(self) -> dict:
        return {"k": self.k, "sigma": self.sigma, "weighting_scheme": type(self.weighting_scheme).__name__}
