"""Concepts by semantic type (or semantic group), and each mention's pool of same-type concepts.

A mention's pool holds every concept that has one of its gold concepts' types (``level="type"``)
or groups (``level="group"``). Mentions share few type combinations, so each distinct pool is
built once and reused, across batches too; a one-type pool is a view of the type's members.
:func:`per_pool` runs a numpy step once per distinct pool of a batch of rows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..kb.model import KnowledgeBase
from ..utils.rowsets import RowSets, gather_ranges, sorted_unique


def per_pool(pool_ids: np.ndarray, step: Callable[[int, np.ndarray], None]) -> None:
    """``step(pool_id, positions)`` for each distinct id in ``pool_ids``, with the positions holding it."""
    order = np.argsort(pool_ids, kind="stable")
    ids = pool_ids[order]
    starts = np.flatnonzero(np.concatenate([[True], ids[1:] != ids[:-1]])) if len(ids) else np.zeros(0, np.int64)
    ends = np.append(starts[1:], len(ids))
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        step(int(ids[start]), order[start:end])


def concept_types(kb: KnowledgeBase) -> pa.ListArray:
    """The KB's ``types`` column as one list array, a missing list read as empty."""
    column = kb.concepts.column("types")
    types = column.combine_chunks() if column.num_chunks else pa.array([], pa.list_(pa.string()))
    types = types.cast(pa.list_(pa.string()))
    if types.null_count == 0:
        return types
    lengths = pc.fill_null(pc.list_value_length(types), 0).to_numpy(zero_copy_only=False)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pc.list_flatten(types))


class TypePools:
    def __init__(self, kb: KnowledgeBase, level: str = "type"):
        self.kb = kb
        self.level = level
        self._pools: dict[tuple[int, ...], np.ndarray] = {}

    @functools.cached_property
    def labels_of(self) -> RowSets:
        """Per concept: the ids of its types (or groups)."""
        types = concept_types(self.kb)
        concept = pc.list_parent_indices(types).to_numpy(zero_copy_only=False).astype(np.int64)
        encoded = pc.dictionary_encode(pc.list_flatten(types))
        label = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        if self.level == "group":
            groups = self.kb.semantic_network.type_groups
            names = sorted({g for t in encoded.dictionary.to_pylist() if (g := groups.get(t))})
            index = {g: i for i, g in enumerate(names)}
            to_group = np.array([index.get(groups.get(t), -1) for t in encoded.dictionary.to_pylist()], np.int64)
            label = to_group[label] if len(label) else label
            concept, label = concept[label >= 0], label[label >= 0]
        return RowSets.from_pairs(concept, label, self.kb.n_concepts)

    @functools.cached_property
    def members(self) -> RowSets:
        """Per type (or group) id: its concepts."""
        labels = self.labels_of
        n_labels = int(labels.values.max()) + 1 if len(labels.values) else 0
        return RowSets.from_pairs(labels.values, labels.rows, n_labels)

    def pools(self, gold: RowSets) -> tuple[np.ndarray, list[np.ndarray]]:
        """Each row's pool id (-1: its gold has no type, or it has no gold) and each pool's sorted concepts."""
        rows, positions = gather_ranges(self.labels_of.offsets, gold.values, gold.rows)
        per_row = RowSets.from_pairs(rows, self.labels_of.values[positions], gold.n_rows)
        values, offsets = per_row.values.tolist(), per_row.offsets.tolist()
        index: dict[tuple[int, ...], int] = {}
        pool_of_row = np.full(gold.n_rows, -1, dtype=np.int64)
        for row in range(gold.n_rows):
            start, end = offsets[row], offsets[row + 1]
            if start < end:
                pool_of_row[row] = index.setdefault(tuple(values[start:end]), len(index))
        return pool_of_row, [self._pool(labels) for labels in index]

    def _pool(self, labels: tuple[int, ...]) -> np.ndarray:
        pool = self._pools.get(labels)
        if pool is None:
            members = self.members
            parts = [members.row(label) for label in labels]
            pool = parts[0] if len(parts) == 1 else sorted_unique(np.concatenate(parts))
            self._pools[labels] = pool
        return pool
