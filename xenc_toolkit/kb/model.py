"""The in-memory knowledge base: concepts, all their names, semantic types and groups.

Columns are held as Apache Arrow arrays (compact: a full English UMLS is ~4M
concepts and ~10M names) and saved as Parquet. Python lists and lookup dicts are
built lazily, only when a caller needs them.

Every source (UMLS RRF, MEDIC-style dictionaries, TSV, corpus surface forms) ends
up as a :class:`KnowledgeBase`, so everything downstream works the same way.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import IncompatibleArtifactError, MissingInputError
from ..utils.io import atomic_directory, atomic_write_json, read_json, stable_hash
from ..utils.provenance import kb_summary, new_record, write_record
from .normalize import normalize_name
from .semantic_types import SemanticNetwork, load_semantic_network

KB_FORMAT_VERSION = 1


@dataclass
class ConceptRecord:
    """One concept for :meth:`KnowledgeBase.from_records`."""

    concept_id: str
    names: Sequence[str]
    preferred_name: str | None = None
    types: Sequence[str] = ()
    definition: str | None = None
    alt_ids: Sequence[str] = ()


@dataclass
class KnowledgeBase:
    """Concepts and their names.

    Attributes:
        concepts: Arrow table with ``concept_id`` (str), ``preferred_name`` (str),
            ``types`` (list<str> of TUIs or other type codes) and ``definition`` (str, nullable).
        names: Arrow table with ``name`` (str) and ``concept_index`` (int32): every
            distinct name of every concept (a string may appear for several concepts); a KB built
            from or augmented with annotated mentions also has ``mentions`` (int32): how many
            training mentions carried this exact string for this concept (0 for dictionary names),
            the prior that orders equally similar candidates (:attr:`name_mentions`), and
            ``dictionary`` (bool): whether the row is a dictionary name (False for the strings
            that only mentions added; :attr:`name_in_dictionary`).
        aliases: Arrow table ``alias_id`` (str) -> ``concept_index`` (int32): alternative
            ids that resolve to a concept (MEDIC alt ids, retired CUIs merged by MRCUI).
        metadata: provenance (source kind, files, filters, counts) and the checksum.
    """

    concepts: pa.Table
    names: pa.Table
    aliases: pa.Table = field(
        default_factory=lambda: pa.table(
            {"alias_id": pa.array([], pa.string()), "concept_index": pa.array([], pa.int32())}
        )
    )
    metadata: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_records(
        cls, records: Iterable[ConceptRecord], metadata: dict[str, Any] | None = None, dedupe_names: bool = True
    ) -> KnowledgeBase:
        """Build a KB from concept records (first preferred name wins; names deduplicated per concept)."""
        ids: list[str] = []
        preferred: list[str] = []
        types: list[list[str]] = []
        definitions: list[str | None] = []
        name_list: list[str] = []
        name_concept: list[int] = []
        alias_ids: list[str] = []
        alias_index: list[int] = []
        position: dict[str, int] = {}
        seen_names: list[set[str]] = []
        for record in records:
            index = position.get(record.concept_id)
            if index is None:
                index = len(ids)
                position[record.concept_id] = index
                ids.append(record.concept_id)
                preferred.append(record.preferred_name or (record.names[0] if record.names else record.concept_id))
                types.append(list(dict.fromkeys(record.types)))
                definitions.append(record.definition)
                seen_names.append(set())
            else:
                for tui in record.types:
                    if tui not in types[index]:
                        types[index].append(tui)
                if definitions[index] is None and record.definition:
                    definitions[index] = record.definition
            seen = seen_names[index]
            all_names = list(record.names)
            if record.preferred_name and record.preferred_name not in all_names:
                all_names.insert(0, record.preferred_name)
            for name in all_names:
                if not name or (dedupe_names and name in seen):
                    continue
                seen.add(name)
                name_list.append(name)
                name_concept.append(index)
            for alt in record.alt_ids:
                if alt != record.concept_id:
                    alias_ids.append(alt)
                    alias_index.append(index)
        concepts = pa.table(
            {
                "concept_id": pa.array(ids, pa.string()),
                "preferred_name": pa.array(preferred, pa.string()),
                "types": pa.array(types, pa.list_(pa.string())),
                "definition": pa.array(definitions, pa.string()),
            }
        )
        names = pa.table(
            {"name": pa.array(name_list, pa.string()), "concept_index": pa.array(name_concept, pa.int32())}
        )
        aliases = pa.table(
            {"alias_id": pa.array(alias_ids, pa.string()), "concept_index": pa.array(alias_index, pa.int32())}
        )
        kb = cls(concepts=concepts, names=names, aliases=aliases, metadata=dict(metadata or {}))
        kb.metadata.setdefault("source", "records")
        return kb

    # ------------------------------------------------------------------ sizes
    @property
    def n_concepts(self) -> int:
        return self.concepts.num_rows

    @property
    def n_names(self) -> int:
        return self.names.num_rows

    def __len__(self) -> int:
        return self.n_concepts

    def __repr__(self) -> str:
        return f"KnowledgeBase(concepts={self.n_concepts:,}, names={self.n_names:,}, source={self.metadata.get('source')!r})"

    # ------------------------------------------------------------------ lazy views
    @functools.cached_property
    def concept_ids(self) -> list[str]:
        return self.concepts.column("concept_id").to_pylist()

    @functools.cached_property
    def preferred_names(self) -> list[str]:
        return self.concepts.column("preferred_name").to_pylist()

    @functools.cached_property
    def concept_types(self) -> list[tuple[str, ...]]:
        interned: dict[tuple[str, ...], tuple[str, ...]] = {}
        out = []
        for value in self.concepts.column("types").to_pylist():
            key = tuple(value or ())
            out.append(interned.setdefault(key, key))
        return out

    @functools.cached_property
    def name_list(self) -> list[str]:
        return self.names.column("name").to_pylist()

    @functools.cached_property
    def name_concept(self) -> np.ndarray:
        return self.names.column("concept_index").to_numpy().astype(np.int32, copy=False)

    @functools.cached_property
    def name_mentions(self) -> np.ndarray:
        """Training mentions per name row (the ``mentions`` column; zeros when the KB has none)."""
        if "mentions" not in self.names.column_names:
            return np.zeros(self.n_names, dtype=np.int32)
        return self.names.column("mentions").to_numpy().astype(np.int32, copy=False)

    @functools.cached_property
    def name_in_dictionary(self) -> np.ndarray:
        """Whether each name row is a dictionary name (the ``dictionary`` column), bool.

        False only for rows that training mentions added (:func:`~xenc_toolkit.kb.from_corpus.add_mention_names`,
        :func:`~xenc_toolkit.kb.from_corpus.kb_from_mentions`). Without the column (a dictionary KB, or a
        KB saved before the column existed) every row counts as a dictionary name, also rows with
        mention counts: their provenance is unknown, so nothing ever treats them as removable.
        """
        if "dictionary" not in self.names.column_names:
            return np.ones(self.n_names, dtype=np.bool_)
        column = self.names.column("dictionary").fill_null(True)
        return column.to_numpy().astype(np.bool_, copy=False)

    @functools.cached_property
    def concept_mentions(self) -> np.ndarray:
        """Training mentions per concept: the sum of :attr:`name_mentions` over its names."""
        counts = np.bincount(self.name_concept, weights=self.name_mentions, minlength=self.n_concepts)
        return counts.astype(np.int64)

    @functools.cached_property
    def id_to_index(self) -> dict[str, int]:
        mapping = {cid: i for i, cid in enumerate(self.concept_ids)}
        if self.aliases.num_rows:
            for alias, index in zip(
                self.aliases.column("alias_id").to_pylist(),
                self.aliases.column("concept_index").to_pylist(),
                strict=True,
            ):
                mapping.setdefault(alias, index)
        return mapping

    @functools.cached_property
    def _names_by_concept(self) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(self.name_concept, kind="stable")
        bounds = np.searchsorted(self.name_concept[order], np.arange(self.n_concepts + 1))
        return order, bounds

    @functools.cached_property
    def concept_has_names(self) -> np.ndarray:
        """Per concept, whether it has at least one name row (a reduced KB, e.g. a cross-fitting fold's or a
        synonym-query fold's, can leave a concept without names: it then cannot be a candidate)."""
        return np.bincount(self.name_concept, minlength=self.n_concepts) > 0

    def names_of(self, index: int) -> np.ndarray:
        """Name-row indices of concept ``index``."""
        order, bounds = self._names_by_concept
        return order[bounds[index] : bounds[index + 1]]

    @functools.cached_property
    def _name_key_cache(self) -> dict[int, frozenset[str]]:
        return {}

    def name_keys(self, index: int) -> frozenset[str]:
        """Normalised keys of all names of concept ``index`` (computed lazily, cached).

        Two concepts sharing a key are treated as possible synonyms by the
        false-negative filter of the negative samplers.
        """
        cache = self._name_key_cache
        keys = cache.get(index)
        if keys is None:
            names = self.name_list
            keys = frozenset(normalize_name(names[i]) for i in self.names_of(index).tolist())
            cache[index] = keys
        return keys

    @functools.cached_property
    def concepts_by_type(self) -> dict[str, np.ndarray]:
        groups: dict[str, list[int]] = {}
        for index, tuis in enumerate(self.concept_types):
            for tui in tuis:
                groups.setdefault(tui, []).append(index)
        return {tui: np.asarray(v, dtype=np.int32) for tui, v in groups.items()}

    @functools.cached_property
    def concepts_by_group(self) -> dict[str, np.ndarray]:
        network = self.semantic_network
        groups: dict[str, list[int]] = {}
        for index, tuis in enumerate(self.concept_types):
            for group in network.groups_of(tuis):
                groups.setdefault(group, []).append(index)
        return {g: np.asarray(v, dtype=np.int32) for g, v in groups.items()}

    @property
    def semantic_network(self) -> SemanticNetwork:
        return load_semantic_network()

    # ------------------------------------------------------------------ lookups
    def resolve(self, concept_id: str) -> int | None:
        """Index of a concept id (or alias / retired id merged into it), or None."""
        return self.id_to_index.get(concept_id)

    def types_of(self, index: int) -> tuple[str, ...]:
        return self.concept_types[index]

    def groups_of(self, index: int) -> tuple[str, ...]:
        return self.semantic_network.groups_of(self.concept_types[index])

    def type_name(self, tui: str) -> str:
        """Name of a type: the bundled semantic network's, else the KB's own (``metadata["type_names"]``,
        e.g. MRSTY's STY for a TUI the network lacks), else the code itself."""
        known = self.semantic_network.type_names.get(tui)
        return known or (self.metadata.get("type_names") or {}).get(tui) or tui

    def type_names_of(self, index: int) -> list[str]:
        return [self.type_name(t) for t in self.concept_types[index]]

    # ------------------------------------------------------------------ identity
    @functools.cached_property
    def checksum(self) -> str:
        """Content checksum: stable for the same concepts, names, types and aliases."""
        if "checksum" in self.metadata:
            return self.metadata["checksum"]
        import hashlib

        digest = hashlib.sha256()
        for table in (self.concepts.select(["concept_id", "preferred_name", "types"]), self.names, self.aliases):
            for column in table.columns:
                for chunk in column.chunks:
                    for buffer in chunk.buffers():
                        if buffer is not None:
                            digest.update(memoryview(buffer))
        return digest.hexdigest()[:16]

    # ------------------------------------------------------------------ subsets
    def with_names(self, names: pa.Table, **metadata: Any) -> KnowledgeBase:
        """The same concepts and aliases (so the same concept indices) with another names table.

        ``metadata`` entries are added to a copy of this KB's metadata; the checksum is recomputed.
        """
        meta = {k: v for k, v in self.metadata.items() if k != "checksum"}
        meta.update(metadata)
        return KnowledgeBase(concepts=self.concepts, names=names, aliases=self.aliases, metadata=meta)

    def subset(self, concept_indices: Sequence[int] | np.ndarray) -> KnowledgeBase:
        """A KB holding only the given concepts (in the given order)."""
        keep = np.asarray(concept_indices, dtype=np.int64)
        remap = np.full(self.n_concepts, -1, dtype=np.int64)
        remap[keep] = np.arange(len(keep))
        concepts = self.concepts.take(pa.array(keep))
        new_index = remap[self.name_concept]
        name_rows = np.nonzero(new_index >= 0)[0]
        names = {
            "name": self.names.column("name").take(pa.array(name_rows)),
            "concept_index": pa.array(new_index[name_rows].astype(np.int32)),
        }
        for optional in ("mentions", "dictionary"):
            if optional in self.names.column_names:
                names[optional] = self.names.column(optional).take(pa.array(name_rows))
        names = pa.table(names)
        alias_index = self.aliases.column("concept_index").to_numpy().astype(np.int64)
        alias_new = remap[alias_index] if len(alias_index) else alias_index
        alias_rows = np.nonzero(alias_new >= 0)[0]
        aliases = pa.table(
            {
                "alias_id": self.aliases.column("alias_id").take(pa.array(alias_rows, pa.int64())),
                "concept_index": pa.array(alias_new[alias_rows].astype(np.int32), pa.int32()),
            }
        )
        meta = {k: v for k, v in self.metadata.items() if k != "checksum"}
        meta["subset_of"] = self.checksum
        return KnowledgeBase(concepts=concepts, names=names, aliases=aliases, metadata=meta)

    def filter_types(self, tuis: Iterable[str] | None = None, groups: Iterable[str] | None = None) -> KnowledgeBase:
        """Keep concepts having at least one of the given TUIs or semantic groups."""
        tuis = set(tuis or ())
        groups = set(groups or ())
        if not tuis and not groups:
            return self
        network = self.semantic_network
        keep = [
            i
            for i, types in enumerate(self.concept_types)
            if tuis.intersection(types) or groups.intersection(network.groups_of(types))
        ]
        return self.subset(keep)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the KB as Parquet files plus ``kb.json`` (atomically)."""
        path = Path(path)
        with atomic_directory(path) as tmp:
            pq.write_table(self.concepts, tmp / "concepts.parquet", compression="zstd")
            pq.write_table(self.names, tmp / "names.parquet", compression="zstd")
            pq.write_table(self.aliases, tmp / "aliases.parquet", compression="zstd")
            meta = dict(self.metadata)
            meta.update(
                {
                    "format_version": KB_FORMAT_VERSION,
                    "checksum": self.checksum,
                    "n_concepts": self.n_concepts,
                    "n_names": self.n_names,
                }
            )
            atomic_write_json(tmp / "kb.json", meta)
            write_record(tmp, new_record("kb", kb=kb_summary(self), sources=self.metadata.get("files")))
        return path

    @classmethod
    def load(cls, path: str | Path) -> KnowledgeBase:
        path = Path(path)
        if not (path / "kb.json").exists():
            raise MissingInputError(path / "kb.json", "saved knowledge base")
        meta = read_json(path / "kb.json")
        if meta.get("format_version") != KB_FORMAT_VERSION:
            raise IncompatibleArtifactError(
                f"{path}: KB format version {meta.get('format_version')} is not supported "
                f"(this xenc-toolkit reads version {KB_FORMAT_VERSION}); rebuild it"
            )
        return cls(
            concepts=pq.read_table(path / "concepts.parquet"),
            names=pq.read_table(path / "names.parquet"),
            aliases=pq.read_table(path / "aliases.parquet"),
            metadata=meta,
        )

    def summary(self) -> dict[str, Any]:
        n_typed = sum(1 for t in self.concept_types if t)
        return {
            "concepts": self.n_concepts,
            "names": self.n_names,
            "aliases": self.aliases.num_rows,
            "concepts_with_types": n_typed,
            "names_per_concept": round(self.n_names / max(1, self.n_concepts), 3),
            "checksum": self.checksum,
            "source": self.metadata.get("source"),
        }


def kb_fingerprint(parts: Iterable[Any]) -> str:
    """Checksum for KB caches, from input fingerprints and filter settings."""
    return stable_hash(parts)
