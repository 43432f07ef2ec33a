"""Load a UMLS Metathesaurus release (a ``META`` directory of RRF files) as a :class:`KnowledgeBase`.

Files
-----
``MRCONSO.RRF`` (names; required), ``MRSTY.RRF`` (semantic types; required),
``MRDEF.RRF`` (definitions; read with ``load_definitions=True``) and ``MRCUI.RRF``
(retired CUIs, see :mod:`.mrcui`; read with ``map_retired=True`` when present).
Every file is read by :func:`.rrf.read_rrf` (streaming Arrow blocks, checked values, bad lines
named by file and line).

Preferred names
---------------
Among the rows of a concept that survive the filters, the preferred name comes from
the best of these ranks, taking the first row in file order within the rank:

0. ``TS=P``, ``STT=PF``, ``ISPREF=Y`` -- the UMLS definition of a concept's preferred name;
1. any ``TS=P`` row -- used when the filters removed the preferred atom (e.g. it was
   suppressed, or came from an excluded source or language);
2. any row.

All distinct names of a concept are kept (exact duplicates removed), ordered by the
same ranks, then file order, so the preferred name always comes first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputFormatError, MissingInputError, SkipReport
from ..utils.io import file_fingerprint
from ..utils.progress import log
from .model import KnowledgeBase
from .mrcui import load_mrcui
from .rrf import (
    CUI_CHECK,
    MRCONSO,
    MRCUI,
    MRDEF,
    MRSTY,
    NONEMPTY,
    SUPPRESS_CHECK,
    TUI_CHECK,
    FieldCheck,
    _concat_strings,
    _in_set,
    cui_codes,
    cui_index_table,
    cui_lookup,
    cui_strings,
    read_rrf,
    sorted_unique,
)
from .semantic_types import load_semantic_network
from .umls_filters import UmlsFilters

# --------------------------------------------------------------------------- MRCONSO


@dataclass
class _Concepts:
    """Intermediate concept/name arrays (concepts sorted by CUI)."""

    cuis: np.ndarray  # int32, sorted, one per concept
    preferred: pa.Array  # string, one per concept
    names: pa.Array  # string, grouped by concept
    name_concept: np.ndarray  # int32 concept index of each name
    types: pa.Array | None = None  # list<string> per concept
    definitions: pa.Array | None = None  # string (nullable) per concept
    counts: dict[str, Any] = field(default_factory=dict)

    def keep(self, mask: np.ndarray) -> _Concepts:
        """Only the concepts where ``mask`` is true."""
        new_index = np.cumsum(mask, dtype=np.int64) - 1
        name_mask = mask[self.name_concept]
        keep_pa = pa.array(mask)
        return _Concepts(
            cuis=self.cuis[mask],
            preferred=self.preferred.filter(keep_pa),
            names=self.names.filter(pa.array(name_mask)),
            name_concept=new_index[self.name_concept[name_mask]].astype(np.int32),
            types=None if self.types is None else self.types.filter(keep_pa),
            definitions=None if self.definitions is None else self.definitions.filter(keep_pa),
            counts=self.counts,
        )


_MRCONSO_CHECKS = {
    "CUI": CUI_CHECK,
    "LAT": NONEMPTY,
    "TS": FieldCheck("a TS value P or S", values=frozenset({"P", "S"})),
    "STT": NONEMPTY,
    "ISPREF": FieldCheck("an ISPREF value Y or N", values=frozenset({"Y", "N"})),
    "SAB": NONEMPTY,
    "TTY": NONEMPTY,
    "STR": NONEMPTY,
    "SUPPRESS": SUPPRESS_CHECK,
}


def _row_filters(batch: pa.RecordBatch, filters: UmlsFilters) -> list[tuple[str, pa.Array]]:
    """(label, keep mask) for each active MRCONSO row filter, applied in this order."""
    masks = []
    if filters.languages:
        masks.append(("language", _in_set(batch.column("LAT"), filters.languages)))
    if filters.sources:
        masks.append(("source", _in_set(batch.column("SAB"), filters.sources)))
    if filters.exclude_sources:
        masks.append(("excluded_source", pc.invert(_in_set(batch.column("SAB"), filters.exclude_sources))))
    if filters.suppress:
        masks.append(("suppressed", pc.invert(_in_set(batch.column("SUPPRESS"), filters.suppress))))
    if filters.term_types:
        masks.append(("term_type", _in_set(batch.column("TTY"), filters.term_types)))
    return masks


def _read_mrconso(path: Path, filters: UmlsFilters, report: SkipReport) -> _Concepts:
    """Stream MRCONSO, filter its rows and build the deduplicated concept/name arrays."""
    parts: dict[str, list] = {"cui": [], "name": [], "key": []}  # per-block arrays of the kept rows
    dropped: dict[str, int] = {}
    rows = last_line = 0
    for batch, lines in read_rrf(path, MRCONSO, list(_MRCONSO_CHECKS), _MRCONSO_CHECKS, report):
        rows += batch.num_rows
        last_line = int(lines[-1])
        keep = None
        kept = batch.num_rows
        for label, mask in _row_filters(batch, filters):
            keep = mask if keep is None else pc.and_(keep, mask)
            now = pc.sum(keep).as_py() or 0
            dropped[label] = dropped.get(label, 0) + kept - now
            kept = now
        if keep is not None:
            lines = lines[keep.to_numpy(zero_copy_only=False)]
            batch = batch.filter(keep)
        if not batch.num_rows:
            continue
        if lines[-1] >= 1 << 31:
            raise InputFormatError(path, int(lines[-1]), "more than 2^31 lines", "a UMLS MRCONSO.RRF")
        ts_p = pc.equal(batch.column("TS"), "P")
        preferred = pc.and_(ts_p, pc.and_(pc.equal(batch.column("STT"), "PF"), pc.equal(batch.column("ISPREF"), "Y")))
        rank = pc.if_else(preferred, 0, pc.if_else(ts_p, 1, 2)).to_numpy(zero_copy_only=False).astype(np.int64)
        # a row's preference: rank first, then file order (a name keeps the best of its rows)
        parts["key"].append((rank << 31) | lines)
        parts["cui"].append(cui_codes(batch.column("CUI")))
        parts["name"].append(batch.column("STR"))
    kept_rows = sum(len(part) for part in parts["cui"])
    counts: dict[str, Any] = {"mrconso_rows": rows, "mrconso_rows_kept": kept_rows, "mrconso_rows_dropped": dropped}
    if not rows:
        raise InputFormatError(path, 1, "no valid row (the file is empty or every line was skipped)", MRCONSO.expected)
    if not kept_rows:
        raise InputFormatError(
            path,
            last_line,
            f"no names left after the filters ({rows:,} valid rows read, dropped: {dropped})",
            "rows matching kb.languages / sources / exclude_sources / suppress / term_types",
        )
    return _dedupe_names(parts, counts)


def _dedupe_names(parts: dict[str, list], counts: dict[str, Any]) -> _Concepts:
    """Distinct (CUI, name) pairs ordered by CUI, then their best row; the first name of each CUI is preferred.

    ``parts`` holds the kept rows as per-block arrays (``cui`` codes, ``name`` strings,
    ``key`` = rank << 31 | line); they are taken out of it, so their memory is freed as
    soon as they are merged. Names are numbered through one hash table of the distinct
    strings (``unique`` + ``index_in``); the rest is NumPy sorting of integer keys, which
    needs far less memory than a hash group-by on (CUI, string).
    """
    names = pa.chunked_array(parts.pop("name"), pa.string())
    cui = np.concatenate(parts.pop("cui")).astype(np.int64)
    key = np.concatenate(parts.pop("key"))
    distinct = pc.unique(names)
    pair = (cui << 32) | pc.index_in(names, value_set=distinct).to_numpy().astype(np.int64)
    del distinct
    order = np.argsort(key)  # keys are unique (they hold the line number)
    order = order[np.argsort(pair[order], kind="stable")]  # by (CUI, name), best row first
    pair = pair[order]
    first = np.empty(len(pair), dtype=bool)
    first[0] = True
    np.not_equal(pair[1:], pair[:-1], out=first[1:])
    best = order[first]  # the best row of each distinct (CUI, name)
    del pair, order, first
    best = best[np.argsort((cui[best] << 33) | key[best])]
    cui_sorted = cui[best].astype(np.int32)
    del cui, key
    names = names.take(pa.array(best)).combine_chunks()
    del best
    is_first = np.empty(len(cui_sorted), dtype=bool)
    is_first[0] = True
    np.not_equal(cui_sorted[1:], cui_sorted[:-1], out=is_first[1:])
    starts = np.flatnonzero(is_first)
    counts["names"] = len(names)
    return _Concepts(
        cuis=cui_sorted[starts],
        preferred=names.take(pa.array(starts)),
        names=names,
        name_concept=(np.cumsum(is_first, dtype=np.int64) - 1).astype(np.int32),
        counts=counts,
    )


# --------------------------------------------------------------------------- MRSTY


_MRSTY_CHECKS = {"CUI": CUI_CHECK, "TUI": TUI_CHECK, "STY": NONEMPTY}
_TUI_STRINGS = pa.array([f"T{i:03d}" for i in range(1000)], pa.string())


def _read_mrsty(path: Path, concepts: _Concepts, report: SkipReport) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """Distinct (concept index, TUI number) pairs, sorted; plus names of TUIs unknown to the network."""
    network = load_semantic_network()
    known = pa.array(sorted(network.type_names), pa.string())
    concept_parts: list[np.ndarray] = []
    tui_parts: list[np.ndarray] = []
    unknown_names: dict[str, str] = {}
    rows = outside = 0
    table = cui_index_table(concepts.cuis)
    for batch, _lines in read_rrf(path, MRSTY, ["CUI", "TUI", "STY"], _MRSTY_CHECKS, report):
        rows += batch.num_rows
        index = cui_lookup(table, cui_codes(batch.column("CUI")))
        inside = index >= 0
        outside += int((~inside).sum())
        if not inside.any():
            continue
        batch = batch.filter(pa.array(inside))
        unknown = pc.invert(pc.is_in(batch.column("TUI"), value_set=known))
        if pc.any(unknown).as_py():
            pairs = batch.filter(unknown).select(["TUI", "STY"]).to_pylist()
            for pair in pairs:
                unknown_names.setdefault(pair["TUI"], pair["STY"])
        concept_parts.append(index[inside])
        tui_parts.append(pc.cast(pc.utf8_slice_codeunits(batch.column("TUI"), 1), pa.int16()).to_numpy())
    concepts.counts.update({"mrsty_rows": rows, "mrsty_rows_for_other_concepts": outside})
    if not concept_parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int16), unknown_names
    keys = sorted_unique(np.concatenate(concept_parts).astype(np.int64) * 1000 + np.concatenate(tui_parts))
    return keys // 1000, (keys % 1000).astype(np.int16), unknown_names


def check_semantic_types(path: Path, counts: dict[str, Any], n_concepts: int, concept: np.ndarray) -> None:
    """MRSTY must type the KB's concepts: an empty file, or one typing none of them, is an error;
    concepts it leaves untyped are counted (``counts["concepts_without_types"]``) and logged."""
    rows = counts.get("mrsty_rows", 0)
    if not rows:
        raise InputFormatError(
            path, 1, "no valid row (the file is empty): every concept needs its semantic types", MRSTY.expected
        )
    typed = len(np.unique(concept))
    counts["concepts_without_types"] = n_concepts - typed
    if not typed:
        raise InputFormatError(
            path,
            1,
            f"none of its {rows:,} rows is for one of the {n_concepts:,} concepts of {MRCONSO.name} "
            "(files of different releases or subsets?)",
            f"rows for the CUIs of {MRCONSO.name}",
        )
    if typed < n_concepts:
        log(f"{path}: {n_concepts - typed:,} of {n_concepts:,} concepts have no semantic type", style="yellow")


def _types_column(n_concepts: int, concept: np.ndarray, tui: np.ndarray) -> pa.Array:
    """list<string> of TUIs per concept from sorted (concept, TUI) pairs."""
    offsets = np.zeros(n_concepts + 1, dtype=np.int32)
    np.cumsum(np.bincount(concept, minlength=n_concepts), out=offsets[1:])
    values = _TUI_STRINGS.take(pa.array(tui.astype(np.int32)))
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def _semantic_filter(
    concepts: _Concepts, concept: np.ndarray, tui: np.ndarray, filters: UmlsFilters
) -> tuple[_Concepts, np.ndarray, np.ndarray]:
    """Keep concepts with an allowed TUI (or group); returns the filtered concepts and type pairs."""
    allowed = filters.allowed_tuis()
    if not allowed:
        return concepts, concept, tui
    allowed_numbers = np.asarray(sorted(int(t[1:]) for t in allowed), dtype=np.int16)
    keep = np.zeros(len(concepts.cuis), dtype=bool)
    keep[concept[np.isin(tui, allowed_numbers)]] = True
    concepts.counts["concepts_dropped_by_semantic_filter"] = int((~keep).sum())
    new_index = np.cumsum(keep, dtype=np.int64) - 1
    pair_keep = keep[concept]
    return concepts.keep(keep), new_index[concept[pair_keep]], tui[pair_keep]


# --------------------------------------------------------------------------- MRDEF


_MRDEF_CHECKS = {"CUI": CUI_CHECK, "SAB": NONEMPTY, "DEF": NONEMPTY, "SUPPRESS": SUPPRESS_CHECK}


def _read_mrdef(path: Path, concepts: _Concepts, filters: UmlsFilters, report: SkipReport) -> pa.Array:
    """The first definition per concept that passes the suppress and source filters (nullable strings)."""
    concept_parts: list[np.ndarray] = []
    text_parts: list[pa.Array] = []
    rows = 0
    table = cui_index_table(concepts.cuis)
    for batch, _lines in read_rrf(path, MRDEF, ["CUI", "SAB", "DEF", "SUPPRESS"], _MRDEF_CHECKS, report):
        rows += batch.num_rows
        index = cui_lookup(table, cui_codes(batch.column("CUI")))
        keep = pa.array(index >= 0)
        if filters.suppress:
            keep = pc.and_(keep, pc.invert(_in_set(batch.column("SUPPRESS"), filters.suppress)))
        if filters.sources:
            keep = pc.and_(keep, _in_set(batch.column("SAB"), filters.sources))
        if filters.exclude_sources:
            keep = pc.and_(keep, pc.invert(_in_set(batch.column("SAB"), filters.exclude_sources)))
        keep_np = keep.to_numpy(zero_copy_only=False)
        if keep_np.any():
            concept_parts.append(index[keep_np])
            text_parts.append(batch.column("DEF").filter(keep))
    n = len(concepts.cuis)
    concepts.counts["mrdef_rows"] = rows
    if not concept_parts:
        concepts.counts["definitions"] = 0
        return pa.nulls(n, pa.string())
    index = np.concatenate(concept_parts)
    first_concept, first_row = np.unique(index, return_index=True)
    texts = _concat_strings(text_parts).take(pa.array(first_row))
    slot = np.full(n, -1, dtype=np.int64)
    slot[first_concept] = np.arange(len(first_concept))
    concepts.counts["definitions"] = len(first_concept)
    present = slot >= 0
    chosen = texts.take(pa.array(np.where(present, slot, 0)))
    return pc.if_else(pa.array(present), chosen, pa.scalar(None, chosen.type))


# --------------------------------------------------------------------------- public


def umls_files(meta_dir: str | Path, *, load_definitions: bool = False, map_retired: bool = True) -> dict[str, Path]:
    """The RRF files :func:`load_umls` reads from ``meta_dir`` (raises when a required one is missing).

    ``meta_dir`` may also be a release directory holding ``META/``.
    """
    meta = Path(meta_dir)
    if not meta.exists():
        raise MissingInputError(meta, "UMLS META directory")
    if not (meta / MRCONSO.name).exists() and (meta / "META" / MRCONSO.name).exists():
        meta = meta / "META"
    files = {"MRCONSO": meta / MRCONSO.name, "MRSTY": meta / MRSTY.name}
    for path in files.values():
        if not path.is_file():
            raise MissingInputError(path, "UMLS file")
    if load_definitions:
        files["MRDEF"] = meta / MRDEF.name
        if not files["MRDEF"].is_file():
            raise MissingInputError(files["MRDEF"], "UMLS file (needed for load_definitions)")
    if map_retired and (meta / MRCUI.name).is_file():
        files["MRCUI"] = meta / MRCUI.name
    return files


def load_umls(
    meta_dir: str | Path,
    *,
    languages: Sequence[str] = ("ENG",),
    sources: Sequence[str] = (),
    exclude_sources: Sequence[str] = (),
    suppress: Sequence[str] = ("O", "E", "Y"),
    term_types: Sequence[str] = (),
    semantic_types: Sequence[str] = (),
    semantic_groups: Sequence[str] = (),
    load_definitions: bool = False,
    map_retired: bool = True,
    report: SkipReport | None = None,
) -> KnowledgeBase:
    """Load a UMLS ``META`` directory as a :class:`KnowledgeBase`.

    Args:
        meta_dir: directory with ``MRCONSO.RRF`` and ``MRSTY.RRF`` (or a release directory holding ``META/``).
        languages: LAT values kept (empty = all).
        sources: SAB values kept (empty = all); also applied to definitions.
        exclude_sources: SAB values dropped; also applied to definitions.
        suppress: SUPPRESS values dropped (``O`` obsolete, ``E`` editor-, ``Y`` source-suppressed).
        term_types: TTY values kept (empty = all).
        semantic_types: keep only concepts having one of these TUIs (empty = all).
        semantic_groups: keep only concepts in one of these semantic groups (``DISO``, ``CHEM``, ...);
            with ``semantic_types`` too, a concept matching either is kept.
        load_definitions: read ``MRDEF.RRF`` (first non-suppressed definition of each concept).
        map_retired: read ``MRCUI.RRF`` (when present) and add retired CUIs merged (``SY``) into a
            concept of this KB as aliases, so ``kb.resolve(old_cui)`` finds the current concept.
        report: a lenient :class:`SkipReport` counts bad lines instead of raising.

    Raises:
        MissingInputError: a required file is missing.
        InputFormatError: a line is malformed (file, line and expectation in the message),
            or no names survive the filters.
        ConfigError: a filter value can never match (unknown semantic group, malformed TUI).
    """
    report = report if report is not None else SkipReport()
    filters = UmlsFilters(
        languages=tuple(languages),
        sources=tuple(sources),
        exclude_sources=tuple(exclude_sources),
        suppress=tuple(suppress),
        term_types=tuple(term_types),
        semantic_types=tuple(semantic_types),
        semantic_groups=tuple(semantic_groups),
    )
    filters.validate()
    files = umls_files(meta_dir, load_definitions=load_definitions, map_retired=map_retired)
    log(f"loading UMLS from {files['MRCONSO'].parent}")

    concepts = _read_mrconso(files["MRCONSO"], filters, report)
    concept, tui, unknown_type_names = _read_mrsty(files["MRSTY"], concepts, report)
    check_semantic_types(files["MRSTY"], concepts.counts, len(concepts.cuis), concept)
    concepts, concept, tui = _semantic_filter(concepts, concept, tui, filters)
    if not len(concepts.cuis):
        raise InputFormatError(
            files["MRSTY"],
            None,
            "no concepts left after the semantic type/group filters",
            "concepts of the chosen types",
        )
    concepts.types = _types_column(len(concepts.cuis), concept, tui)
    del concept, tui
    concepts.definitions = (
        _read_mrdef(files["MRDEF"], concepts, filters, report)
        if load_definitions
        else pa.nulls(len(concepts.cuis), pa.string())
    )
    aliases = _empty_aliases()
    if map_retired:
        if "MRCUI" in files:
            retired = load_mrcui(files["MRCUI"], report)
            aliases = retired.alias_table(concepts.cuis, concepts.counts)
        else:
            log(f"{files['MRCONSO'].parent}: no {MRCUI.name}; retired CUIs will not be resolved", style="yellow")
            concepts.counts["mrcui"] = "absent"

    kb = KnowledgeBase(
        concepts=pa.table(
            {
                "concept_id": cui_strings(concepts.cuis),
                "preferred_name": concepts.preferred,
                "types": concepts.types,
                "definition": concepts.definitions,
            }
        ),
        names=pa.table({"name": concepts.names, "concept_index": pa.array(concepts.name_concept, pa.int32())}),
        aliases=aliases,
        metadata={
            "source": "umls",
            "path": str(files["MRCONSO"].parent),
            "files": {name: {"file": path.name, "fingerprint": file_fingerprint(path)} for name, path in files.items()},
            "filters": {**filters.as_dict(), "load_definitions": load_definitions, "map_retired": map_retired},
            "counts": concepts.counts,
            "type_names": unknown_type_names,
        },
    )
    dropped = ", ".join(f"{label} {n:,}" for label, n in concepts.counts["mrconso_rows_dropped"].items())
    semantic = concepts.counts.get("concepts_dropped_by_semantic_filter")
    log(
        f"UMLS: {kb.n_concepts:,} concepts, {kb.n_names:,} names, {kb.aliases.num_rows:,} retired-CUI aliases "
        f"from {concepts.counts['mrconso_rows']:,} MRCONSO rows (rows dropped: {dropped or 'none'}"
        + (f"; concepts dropped by the semantic filter: {semantic:,})" if semantic is not None else ")")
    )
    return kb


def _empty_aliases() -> pa.Table:
    return pa.table({"alias_id": pa.array([], pa.string()), "concept_index": pa.array([], pa.int32())})
