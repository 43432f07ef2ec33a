"""Rejection sampling of distinct values for many rows at once.

Each row runs the loop a per-row sampler would: draw a value, skip it if it is excluded or
already chosen, count and skip it if it is filtered, keep it otherwise; stop after ``count``
kept values or ``max_attempts`` draws. Here all rows draw a block of values per round (numpy),
the blocks are classified together, and a row's draws after its ``count``-th kept value are
not used (so they are neither kept nor counted as filtered): the result is what the sequential
loop gives on the same stream of draws.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# (rows, values) -> (skip: excluded or invalid, silently; filtered: skipped and counted)
Classifier = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
# (rows, width) -> values drawn for those rows, shape [len(rows), width]
Source = Callable[[np.ndarray, int], np.ndarray]


def draw_distinct(
    n_rows: int, count: int, max_attempts: int, source: Source, classify: Classifier
) -> tuple[np.ndarray, np.ndarray, int]:
    """Up to ``count`` distinct accepted values per row.

    Returns ``(rows, values, filtered)``: the accepted values ordered by row, then by draw, and
    how many used draws were rejected as ``filtered``.
    """
    have = np.zeros(n_rows, dtype=np.int64)
    used = np.zeros(n_rows, dtype=np.int64)
    chosen_rows: list[np.ndarray] = []
    chosen_values: list[np.ndarray] = []
    chosen_order: list[np.ndarray] = []
    filtered = 0
    active = np.arange(n_rows, dtype=np.int64) if count > 0 and max_attempts > 0 else np.zeros(0, np.int64)
    while len(active):
        need = count - have[active]
        left = max_attempts - used[active]
        width = int(min(left.max(), 2 * need.max() + 8))
        values = np.asarray(source(active, width), dtype=np.int64)
        rows = np.repeat(active, width).reshape(len(active), width)
        in_budget = np.arange(width)[None, :] < left[:, None]
        skip, counted = (np.asarray(m).reshape(values.shape) for m in classify(rows.ravel(), values.ravel()))
        counted = counted & ~skip
        ok = in_budget & ~skip & ~counted
        ok &= ~_already_chosen(rows, values, chosen_rows, chosen_values)
        ok &= _first_in_row(rows, values, ok)
        before = np.cumsum(ok, axis=1) - ok  # kept values drawn before each position
        consumed = in_budget & (before < need[:, None])
        take = ok & consumed
        filtered += int((counted & consumed).sum())
        chosen_rows.append(rows[take])
        chosen_values.append(values[take])
        chosen_order.append((used[active][:, None] + np.arange(width)[None, :])[take])
        have[active] += take.sum(axis=1)
        used[active] += consumed.sum(axis=1)
        active = active[(have[active] < count) & (used[active] < max_attempts)]
    if not chosen_rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), filtered
    rows, values, order = (np.concatenate(parts) for parts in (chosen_rows, chosen_values, chosen_order))
    sort = np.lexsort((order, rows))
    return rows[sort], values[sort], filtered


def _already_chosen(rows: np.ndarray, values: np.ndarray, chosen_rows: list, chosen_values: list) -> np.ndarray:
    """Whether each (row, value) was accepted in an earlier round."""
    if not chosen_rows or not sum(len(c) for c in chosen_rows):
        return np.zeros(values.shape, dtype=bool)
    prev_rows, prev_values = np.concatenate(chosen_rows), np.concatenate(chosen_values)
    width = int(max(prev_values.max(), values.max())) + 1
    codes = np.sort(prev_rows * width + prev_values)
    query = rows * width + values
    at = np.minimum(np.searchsorted(codes, query), len(codes) - 1)
    return codes[at] == query


def _first_in_row(rows: np.ndarray, values: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Among the ``ok`` positions, the first draw of each value in its row (the rest are repeats)."""
    out = np.zeros(values.shape, dtype=bool)
    flat = np.nonzero(ok.ravel())[0]
    if len(flat):
        width = int(values.max()) + 1
        codes = rows.ravel()[flat] * width + values.ravel()[flat]
        _, first = np.unique(codes, return_index=True)  # first occurrence in row-major (= draw) order
        out.ravel()[flat[first]] = True
    return out
