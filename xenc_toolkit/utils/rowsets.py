"""Small sets of non-negative ints per row (gold concepts per mention, keys per concept), as flat arrays.

A :class:`RowSets` is CSR-shaped: ``values[offsets[r]:offsets[r + 1]]`` is row ``r``'s set, sorted
and without repeats. Membership of many (row, value) pairs at once is one ``searchsorted`` over
the codes ``row * width + value``, which are sorted by construction.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` of an int array by sorting (faster than its hash path for large int64 arrays)."""
    values = np.sort(values)
    if len(values) > 1:
        values = values[np.concatenate([[True], values[1:] != values[:-1]])]
    return values


def gather_ranges(offsets: np.ndarray, items: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each ``items[i]``, every position in ``offsets[items[i]]:offsets[items[i] + 1]``, with ``labels[i]``.

    Returns ``(labels repeated once per position, positions)``, in the order of ``items``.
    """
    items = np.asarray(items, dtype=np.int64)
    starts = offsets[items]
    lengths = offsets[items + 1] - starts
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.asarray(labels).dtype), np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    positions = np.arange(total, dtype=np.int64) + np.repeat(starts - (ends - lengths), lengths)
    return np.repeat(labels, lengths), positions


@dataclass
class RowSets:
    offsets: np.ndarray  # int64 [n_rows + 1]
    values: np.ndarray  # int64, sorted and unique within each row
    _codes: tuple[int, np.ndarray] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_pairs(cls, rows: np.ndarray, values: np.ndarray, n_rows: int) -> RowSets:
        """Sets from (row, value) pairs in any order (repeats dropped)."""
        rows = np.asarray(rows, dtype=np.int64).ravel()
        values = np.asarray(values, dtype=np.int64).ravel()
        if len(values):
            width = int(values.max()) + 1
            codes = sorted_unique(rows * width + values)
            rows, values = codes // width, codes % width
        counts = np.bincount(rows, minlength=n_rows)
        return cls(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), values)

    @classmethod
    def from_sets(cls, sets: Sequence[Iterable[int]]) -> RowSets:
        lengths = np.fromiter(map(len, sets), dtype=np.int64, count=len(sets))
        values = np.fromiter(itertools.chain.from_iterable(sets), dtype=np.int64, count=int(lengths.sum()))
        return cls.from_pairs(np.repeat(np.arange(len(sets), dtype=np.int64), lengths), values, len(sets))

    @property
    def n_rows(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def rows(self) -> np.ndarray:
        """The row of each value."""
        return np.repeat(np.arange(self.n_rows, dtype=np.int64), self.lengths)

    def row(self, r: int) -> np.ndarray:
        return self.values[self.offsets[r] : self.offsets[r + 1]]

    def first(self) -> np.ndarray:
        """Each row's smallest value, -1 for an empty row."""
        out = np.full(self.n_rows, -1, dtype=np.int64)
        nonempty = self.lengths > 0
        out[nonempty] = self.values[self.offsets[:-1][nonempty]]
        return out

    def take(self, rows: np.ndarray) -> RowSets:
        """The sets of the given rows, renumbered 0..len(rows)-1."""
        rows = np.asarray(rows, dtype=np.int64)
        lengths = self.lengths[rows]
        _, positions = gather_ranges(self.offsets, rows, rows)
        return RowSets(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), self.values[positions])

    def contains(self, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Whether ``values[i]`` is in the set of row ``rows[i]`` (any shapes that broadcast)."""
        rows, values = np.broadcast_arrays(np.asarray(rows, dtype=np.int64), np.asarray(values, dtype=np.int64))
        if not len(self.values):
            return np.zeros(rows.shape, dtype=bool)
        if self._codes is None:
            width = int(self.values.max()) + 1
            self._codes = (width, self.rows * width + self.values)
        width, codes = self._codes
        inside = (values >= 0) & (values < width)
        query = rows * width + np.where(inside, values, 0)
        at = np.minimum(np.searchsorted(codes, query), len(codes) - 1)
        return inside & (codes[at] == query)
