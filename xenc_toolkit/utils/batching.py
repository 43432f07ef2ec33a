"""Batches of length-sorted rows under a row and padded-token budget (encoder and pair scorer)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def token_budget_batches(
    lengths: np.ndarray, batch_size: int, max_tokens: int, multiple_of: int = 1, same_width: bool = False
) -> Iterator[tuple[slice, int]]:
    """``(rows, width)`` over rows sorted longest first.

    Each batch holds at most ``batch_size`` rows and ``max_tokens`` padded tokens (at least one
    row); ``width`` is its first (longest) row's length rounded up to ``multiple_of``. With
    ``same_width``, a batch also ends where the length changes: every row of a batch has the
    batch's width, so nothing is padded.
    """
    i, n = 0, len(lengths)
    if same_width:  # the end of each run of equal lengths
        run_ends = np.append(np.flatnonzero(np.diff(lengths)) + 1, n)
    while i < n:
        width = -(-int(lengths[i]) // multiple_of) * multiple_of
        stop = n if not same_width else int(run_ends[np.searchsorted(run_ends, i, side="right")])
        size = max(1, min(batch_size, max_tokens // max(1, width), stop - i))
        yield slice(i, i + size), width
        i += size
