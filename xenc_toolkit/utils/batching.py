"""Batches of length-sorted rows under a row and padded-token budget (encoder and pair scorer)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def token_budget_batches(
    lengths: np.ndarray, batch_size: int, max_tokens: int, multiple_of: int = 1
) -> Iterator[tuple[slice, int]]:
    """``(rows, width)`` over rows sorted longest first.

    Each batch holds at most ``batch_size`` rows and ``max_tokens`` padded tokens (at least one
    row); ``width`` is its first (longest) row's length rounded up to ``multiple_of``.
    """
    i, n = 0, len(lengths)
    while i < n:
        width = -(-int(lengths[i]) // multiple_of) * multiple_of
        size = max(1, min(batch_size, max_tokens // max(1, width), n - i))
        yield slice(i, i + size), width
        i += size
