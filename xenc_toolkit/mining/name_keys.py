"""Integer normalised-name keys for every KB name: the same-name (synonym) filter on int arrays.

:func:`~xenc_toolkit.kb.normalize.normalize_name` is applied to all names at once with Arrow
string kernels (ASCII names without ``&``, nearly all of them) and per name in Python for the
rest, so keys are exactly the ones ``normalize_name`` gives. Each distinct key gets an int id;
a concept's keys are the ids of its names. Two concepts can only share a key that more than one
concept has, so only those *shared* keys are kept per concept: the synonym test of a
(mention, concept) pair is an intersection of two short int lists, done for many pairs at once.
"""

from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..kb.model import KnowledgeBase
from ..kb.normalize import normalize_name
from ..utils.rowsets import RowSets, gather_ranges, sorted_unique

# ASCII bytes ``normalize_name`` turns into a space: Python's ``\s`` (str.isspace) and its punctuation set
_SEPARATORS = b'\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f "(),-./:;[\\]_{}'
_SLICE = 65536
# one table lookup per byte: upper case to lower case, every separator to a space
_MAP = np.arange(256, dtype=np.uint8)
_MAP[ord("A") : ord("Z") + 1] += 32
_MAP[np.frombuffer(_SEPARATORS, dtype=np.uint8)] = ord(" ")


def _compact(data: np.ndarray, offsets: np.ndarray, drop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remove the ``drop`` bytes and shift the string offsets (nothing to do, most of the time)."""
    where = np.flatnonzero(drop)
    if not len(where):
        return data, offsets
    return data[~drop], offsets - np.searchsorted(where, offsets)


def _normalize_ascii(strings: pa.Array) -> pa.Array:
    """``normalize_name`` of ASCII strings without ``&`` on the bytes: lower-case, drop apostrophes,
    one space for each run of separators, none at either end."""
    strings = strings.cast(pa.large_string())
    n = len(strings)
    _, offsets_buffer, data_buffer = strings.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[strings.offset : strings.offset + n + 1]
    raw = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]] if data_buffer else np.zeros(0, np.uint8)
    offsets = offsets - offsets[0]
    data, offsets = _compact(np.take(_MAP, raw), offsets, raw == ord("'"))
    space = data == ord(" ")
    # a space right after a space of the same string goes: each run becomes one
    starts = np.zeros(len(data) + 1, dtype=bool)
    starts[offsets] = True
    drop = np.zeros(len(data), dtype=bool)
    drop[1:] = space[1:] & space[:-1] & ~starts[1:-1]
    if drop.any():
        space = space[~drop]
        data, offsets = _compact(data, offsets, drop)
    # and none at either end of a string
    nonempty = offsets[1:] > offsets[:-1]
    edge = np.zeros(len(data), dtype=bool)
    edge[offsets[:-1][nonempty]] = True
    edge[offsets[1:][nonempty] - 1] = True
    data, offsets = _compact(data, offsets, space & edge)
    return pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _normalized_parts(strings: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray, pa.Array]:
    """``(keys, slow, slow_keys)``: every string normalised on the bytes, right except at the positions
    ``slow`` (non-ASCII or with ``&``), whose keys ``normalize_name`` gives in ``slow_keys``."""
    if isinstance(strings, pa.ChunkedArray):
        strings = strings.combine_chunks() if strings.num_chunks else pa.array([], pa.string())
    strings = pc.fill_null(strings.cast(pa.large_string()), "")
    fast = pc.and_(pc.string_is_ascii(strings), pc.invert(pc.match_substring(strings, "&")))
    # in slices: small temporaries are reused by the allocator instead of mapping fresh pages each step
    keys = pa.concat_arrays(
        [_normalize_ascii(strings.slice(i, _SLICE)) for i in range(0, len(strings), _SLICE)]
        or [pa.array([], pa.large_string())]
    )
    slow = np.nonzero(~fast.to_numpy(zero_copy_only=False))[0]
    slow_keys = pa.array([normalize_name(s) for s in strings.take(slow).to_pylist()], pa.large_string())
    return keys, slow, slow_keys


def normalize_names(strings: pa.Array | pa.ChunkedArray) -> pa.Array:
    """``normalize_name`` of every string (nulls become ``""``), vectorised where it can be."""
    keys, slow, slow_keys = _normalized_parts(strings)
    if not len(slow):
        return keys
    mask = np.zeros(len(keys), dtype=bool)
    mask[slow] = True
    return pc.replace_with_mask(keys, pa.array(mask), slow_keys)


class NameKeys:
    """Normalised-name key ids of a KB's names and preferred names, and each concept's shared keys.

    Attributes (computed on first use):
        name_key: int32 key id of every name row.
        preferred_key: int32 key id of every concept's preferred name (same id space).
        shared: per-concept :class:`RowSets` of the key ids of its names that another concept has too.
    """

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb

    @functools.cached_property
    def _key_ids(self) -> tuple[np.ndarray, np.ndarray, pa.Array]:
        kb = self.kb
        names, slow_names, slow_name_keys = _normalized_parts(kb.names.column("name"))
        preferred, slow_preferred, slow_preferred_keys = _normalized_parts(kb.concepts.column("preferred_name"))
        # one id space; the byte-level keys of the slow strings are encoded too, then replaced by the right ones
        encoded = pc.dictionary_encode(pa.concat_arrays([names, preferred, slow_name_keys, slow_preferred_keys]))
        ids = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
        n_names, n_concepts, n_slow = kb.n_names, kb.n_concepts, len(slow_names)
        name_ids, preferred_ids = ids[:n_names].copy(), ids[n_names : n_names + n_concepts].copy()
        name_ids[slow_names] = ids[n_names + n_concepts : n_names + n_concepts + n_slow]
        preferred_ids[slow_preferred] = ids[n_names + n_concepts + n_slow :]
        return name_ids, preferred_ids, encoded.dictionary

    @property
    def name_key(self) -> np.ndarray:
        return self._key_ids[0]

    @property
    def preferred_key(self) -> np.ndarray:
        return self._key_ids[1]

    def normalized_names(self, name_rows: np.ndarray) -> list[str]:
        """``normalize_name`` of the given name rows."""
        return self._key_ids[2].take(self.name_key[np.asarray(name_rows, dtype=np.int64)]).to_pylist()

    @functools.cached_property
    def shared(self) -> RowSets:
        concept = self.kb.name_concept.astype(np.int64)
        key = self.name_key.astype(np.int64)
        width = int(key.max()) + 1 if len(key) else 1
        pairs = sorted_unique(concept * width + key)  # one (concept, key) per concept and key, by concept
        concept, key = pairs // width, pairs % width
        is_shared = np.bincount(key, minlength=width)[key] > 1
        counts = np.bincount(concept[is_shared], minlength=self.kb.n_concepts)
        return RowSets(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), key[is_shared])

    def keys_of(self, concept: int) -> np.ndarray:
        """The shared key ids of one concept."""
        return self.shared.row(concept)

    def share_a_key(self, rows: np.ndarray, concepts: np.ndarray, gold: RowSets) -> np.ndarray:
        """Whether each ``concepts[i]`` shares a normalised name with a gold concept of row ``rows[i]``.

        A gold concept shares its own keys (when another concept has them too): callers test
        gold membership first, as the sampler's filter does.
        """
        rows = np.asarray(rows, dtype=np.int64).ravel()
        concepts = np.asarray(concepts, dtype=np.int64).ravel()
        out = np.zeros(len(concepts), dtype=bool)
        shared = self.shared
        gold_rows, gold_keys = gather_ranges(shared.offsets, gold.values, gold.rows)
        if not len(gold_keys):
            return out
        gold_key_sets = RowSets.from_pairs(gold_rows, shared.values[gold_keys], gold.n_rows)
        which, positions = gather_ranges(shared.offsets, concepts[concepts >= 0], np.nonzero(concepts >= 0)[0])
        if len(positions):
            hit = gold_key_sets.contains(rows[which], shared.values[positions])
            out[which[hit]] = True
        return out
