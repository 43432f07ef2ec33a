"""Arrow string columns of KB values for flat arrays of concepts and name rows.

Mining writes millions of candidate ids, names, types and texts; they are taken from the KB's
Arrow columns by index instead of being built one Python string at a time. Candidate texts are
:func:`~xenc_toolkit.reranker.formatting.format_candidate` applied with Arrow kernels (the
preferred-name test compares :class:`~xenc_toolkit.mining.name_keys.NameKeys` ids), once per
distinct (concept, name row) pair.
"""

from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..kb.model import KnowledgeBase
from ..settings import InputFormatConfig
from .name_keys import NameKeys
from .type_pools import concept_types

_TYPE_SEPARATOR = "\x1f"


def _column(table: pa.Table, name: str) -> pa.Array:
    column = table.column(name)
    return column.combine_chunks() if column.num_chunks else pa.array([], column.type)


def list_array(offsets: np.ndarray, values: pa.Array) -> pa.ListArray:
    """A list array from flat values and int offsets (``len(rows) + 1`` of them)."""
    return pa.ListArray.from_arrays(pa.array(np.asarray(offsets, dtype=np.int32)), values)


class KBColumns:
    """Concept ids, names, types and formatted candidate texts by index, as Arrow arrays."""

    def __init__(self, kb: KnowledgeBase, fmt: InputFormatConfig, name_keys: NameKeys | None = None):
        self.kb = kb
        self.fmt = fmt
        self.keys = name_keys or NameKeys(kb)

    @functools.cached_property
    def _ids(self) -> pa.Array:
        return _column(self.kb.concepts, "concept_id").cast(pa.string())

    @functools.cached_property
    def _preferred(self) -> pa.Array:
        return _column(self.kb.concepts, "preferred_name").cast(pa.string())

    @functools.cached_property
    def _names(self) -> pa.Array:
        return _column(self.kb.names, "name").cast(pa.string())

    @functools.cached_property
    def _types(self) -> pa.ListArray:
        return concept_types(self.kb)

    @functools.cached_property
    def _type_suffix(self) -> tuple[np.ndarray, pa.Array]:
        """Per concept, an index into the distinct ``", "``-joined type names (``""``: no types)."""
        joined = pc.dictionary_encode(pc.binary_join(self._types, _TYPE_SEPARATOR))
        names = [
            ", ".join(self.kb.type_name(t) for t in combo.split(_TYPE_SEPARATOR)) if combo else ""
            for combo in joined.dictionary.to_pylist()
        ]
        return joined.indices.to_numpy(zero_copy_only=False), pa.array(names, pa.string())

    def ids(self, concepts: np.ndarray) -> pa.Array:
        return self._ids.take(np.asarray(concepts, dtype=np.int64))

    def names(self, concepts: np.ndarray, name_rows: np.ndarray) -> pa.Array:
        """The name shown for each candidate: its name row, or the preferred name where the row is -1."""
        concepts = np.asarray(concepts, dtype=np.int64)
        name_rows = np.asarray(name_rows, dtype=np.int64)
        has_row = name_rows >= 0
        if has_row.all():
            return self._names.take(name_rows)
        return pc.if_else(
            pa.array(has_row), self._names.take(np.where(has_row, name_rows, 0)), self._preferred.take(concepts)
        )

    def types(self, concepts: np.ndarray) -> pa.Array:
        """Each concept's type codes (a list<string> array)."""
        return self._types.take(np.asarray(concepts, dtype=np.int64))

    def texts(self, concepts: np.ndarray, name_rows: np.ndarray) -> pa.Array:
        """``format_candidate`` of each (concept, name row), formatted once per distinct pair."""
        concepts = np.asarray(concepts, dtype=np.int64)
        name_rows = np.asarray(name_rows, dtype=np.int64)
        if not len(concepts):
            return pa.array([], pa.string())
        width = self.kb.n_names + 1
        pairs, inverse = np.unique(concepts * width + (name_rows + 1), return_inverse=True)
        return self._format(pairs // width, pairs % width - 1).take(inverse.ravel())

    def _format(self, concepts: np.ndarray, name_rows: np.ndarray) -> pa.Array:
        fmt = self.fmt
        text = self.names(concepts, name_rows)
        if fmt.preferred_name:
            # "name (preferred)" where the two differ once normalised (an empty preferred name is not shown)
            preferred_key = self.keys.preferred_key[concepts]
            name_key = np.where(name_rows >= 0, self.keys.name_key[np.maximum(name_rows, 0)], preferred_key)
            differs = np.nonzero(name_key != preferred_key)[0]
            preferred = self._preferred.take(concepts[differs])
            shown = differs[
                pc.fill_null(pc.greater(pc.utf8_length(preferred), 0), False).to_numpy(zero_copy_only=False)
            ]
            if len(shown):
                show = np.zeros(len(concepts), dtype=bool)
                show[shown] = True
                joined = pc.binary_join_element_wise(
                    text.take(shown), " (", self._preferred.take(concepts[shown]), ")", ""
                )
                text = pc.replace_with_mask(text, pa.array(show), joined)
        if fmt.candidate_types:
            index, suffixes = self._type_suffix
            suffix = suffixes.take(index[concepts])
            with_types = pc.binary_join_element_wise(text, " [TYPE] ", suffix, "")
            text = pc.if_else(pc.greater(pc.utf8_length(suffix), 0), with_types, text)
        return text
