"""Shared input handling for the xenc losses.

Every loss accepts either the stock sentence-transformers text inputs (the trainer's
default collator: ``[queries, candidates]`` or ``[queries, candidate_lists]``) or the
pre-tokenised features of :mod:`xenc_toolkit.training.data` (``[features_dict]``).
"""

from __future__ import annotations

import torch
from torch import Tensor

MODEL_KEYS = ("input_ids", "attention_mask", "token_type_ids")


def is_pretokenized(inputs) -> bool:
    return len(inputs) == 1 and isinstance(inputs[0], dict)


def pair_logits(model, inputs, prompt=None, task=None) -> Tensor:
    """Logits (float32, 1-D) of the model for pre-tokenised features or ``[queries, candidates]`` text."""
    if is_pretokenized(inputs):
        features = {k: v.to(model.device, non_blocking=True) for k, v in inputs[0].items() if k in MODEL_KEYS}
    else:
        queries, candidates = inputs[0], inputs[1]
        features = model.preprocess(list(zip(queries, candidates, strict=True)), prompt=prompt, task=task)
        features = {k: v.to(model.device) if isinstance(v, Tensor) else v for k, v in features.items()}
    return model(features)["scores"].view(-1).float()


def list_logits(model, inputs, labels, prompt=None, task=None) -> tuple[Tensor, Tensor, Tensor]:
    """Logits and labels of candidate lists as padded matrices [n_lists, max_len] plus a validity mask."""
    if is_pretokenized(inputs):
        group_sizes = inputs[0]["group_sizes"].tolist()
        logits = pair_logits(model, inputs)
        flat_labels = labels.to(logits.device).float().view(-1)
    else:
        queries, lists = inputs[0], inputs[1]
        group_sizes = [len(c) for c in lists]
        flat_q = [q for q, cands in zip(queries, lists, strict=True) for _ in cands]
        flat_c = [c for cands in lists for c in cands]
        logits = pair_logits(model, [flat_q, flat_c], prompt=prompt, task=task)
        flat_labels = torch.cat([torch.as_tensor(y, dtype=torch.float32) for y in labels]).to(logits.device)
    n, longest = len(group_sizes), max(group_sizes)
    rows = torch.repeat_interleave(
        torch.arange(n, device=logits.device), torch.as_tensor(group_sizes, device=logits.device)
    )
    starts = torch.cumsum(torch.as_tensor([0] + group_sizes[:-1], device=logits.device), 0)
    cols = torch.arange(len(logits), device=logits.device) - starts[rows]
    logit_matrix = torch.full((n, longest), float("-inf"), device=logits.device)
    label_matrix = torch.zeros((n, longest), device=logits.device)
    mask = torch.zeros((n, longest), dtype=torch.bool, device=logits.device)
    logit_matrix[rows, cols] = logits
    label_matrix[rows, cols] = flat_labels
    mask[rows, cols] = True
    return logit_matrix, label_matrix, mask
