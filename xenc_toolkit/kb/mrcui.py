"""Retired CUIs: read ``MRCUI.RRF`` and map old CUIs (e.g. MedMentions' 2017AA ones) to current ones.

``MRCUI.RRF`` (``CUI1|VER|REL|RELA|MAPREASON|CUI2|MAPIN|``) lists every CUI that left
the Metathesaurus and what became of it:

- ``SY``: CUI1 was merged into CUI2 (synonymous). Followed transitively, so a CUI merged
  twice (``A -SY-> B -SY-> C``) maps to ``C``; cycles are harmless.
- ``DEL`` (and ``SUBX``, "removed from this subset"): CUI1 is gone, there is nothing to map to.
- ``RB`` / ``RN`` / ``RO`` / ``RQ``: CUI1 is gone and CUI2 is broader / narrower / otherwise
  related. These are *not* mapped automatically (the meaning differs); they are kept
  as suggestions and counted separately as "related".

When a CUI has several ``SY`` targets, the resolution is deterministic: the shortest
chain to a current CUI wins, ties going to the edge from the most recent MRCUI
version (``VER``), then to the lowest CUI.

"Current" means "a concept of this knowledge base" when a KB is given; without one,
every ``CUI1`` listed in MRCUI counts as retired and any other CUI as current.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputFormatError, MissingInputError, SkipReport
from ..utils.progress import log
from .model import KnowledgeBase
from .rrf import (
    CUI_CHECK,
    CUI_CODE_LIMIT,
    CUI_PATTERN,
    MRCUI,
    NONEMPTY,
    FieldCheck,
    cui_codes,
    cui_index_table,
    cui_lookup,
    cui_strings,
    read_rrf,
    sorted_unique,
)

REL_VALUES = ("SY", "DEL", "SUBX", "RB", "RN", "RO", "RQ")
"""The MRCUI ``REL`` values understood (anything else is a format error)."""
DELETED_RELS = frozenset({"DEL", "SUBX"})
RELATED_RELS = ("RB", "RN", "RO", "RQ")

_MRCUI_CHECKS = {
    "CUI1": CUI_CHECK,
    "VER": NONEMPTY,
    "REL": FieldCheck(f"a REL value ({', '.join(REL_VALUES)})", values=frozenset(REL_VALUES)),
    "CUI2": FieldCheck("a CUI (C and 7 digits) or nothing", pattern=CUI_PATTERN, allow_empty=True),
    "MAPIN": FieldCheck("a MAPIN value Y, N or nothing", values=frozenset({"Y", "N"}), allow_empty=True),
}
_EMPTY = np.zeros(0, dtype=np.int64)


def _code(cui: str) -> int:
    """Integer code of a CUI string, -1 for anything that is not a CUI."""
    if len(cui) == 8 and cui[0] == "C" and cui[1:].isdigit() and cui[1:].isascii():
        return int(cui[1:])
    return -1


def _codes(cuis: Iterable[str]) -> np.ndarray:
    return np.fromiter((_code(c) for c in cuis), dtype=np.int64)


def _in_sorted(haystack: np.ndarray, needles: np.ndarray) -> np.ndarray:
    """Membership of ``needles`` in the sorted array ``haystack`` (fast for large int64 keys)."""
    out = np.zeros(len(needles), dtype=bool)
    if not len(haystack) or not len(needles):
        return out
    order = np.argsort(needles, kind="stable")
    ordered = needles[order]
    position = np.minimum(np.searchsorted(haystack, ordered), len(haystack) - 1)
    out[order] = haystack[position] == ordered
    return out


def _cui(code: int) -> str:
    return f"C{code:07d}"


Current = KnowledgeBase | Iterable[str] | None


@dataclass(eq=False)
class RetiredCuiMap:
    """The history of retired CUIs, as sorted integer arrays (CUI ``C0004057`` = 4057).

    Attributes:
        sy_source, sy_target: ``SY`` (merge) edges, sorted by source, newest version first, then target.
        deleted: sorted CUIs with a ``DEL``/``SUBX`` row.
        related_source, related_target, related_rel: ``RB``/``RN``/``RO``/``RQ`` rows sorted by source
            (``related_rel`` indexes :data:`RELATED_RELS`).
        retired: sorted distinct ``CUI1`` values.
        counts: rows per ``REL``.
    """

    sy_source: np.ndarray
    sy_target: np.ndarray
    deleted: np.ndarray
    related_source: np.ndarray
    related_target: np.ndarray
    related_rel: np.ndarray
    retired: np.ndarray
    counts: dict[str, int] = field(default_factory=dict)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_arrays(
        cls, cui1: np.ndarray, version_rank: np.ndarray, rel: np.ndarray, cui2: np.ndarray
    ) -> RetiredCuiMap:
        """Build from parallel columns: CUI codes (ints, -1 for an empty CUI2), version ranks
        (higher = newer) and ``REL`` codes (indexes into :data:`REL_VALUES`)."""
        cui1 = np.asarray(cui1, dtype=np.int64)
        cui2 = np.asarray(cui2, dtype=np.int64)
        version_rank = np.asarray(version_rank, dtype=np.int64)
        rel = np.asarray(rel, dtype=np.int64)
        counts = {REL_VALUES[i]: int(n) for i, n in enumerate(np.bincount(rel, minlength=len(REL_VALUES))) if n}

        sy = (rel == REL_VALUES.index("SY")) & (cui2 >= 0) & (cui1 != cui2)
        order = np.lexsort((cui2[sy], -version_rank[sy], cui1[sy]))
        sy_source, sy_target = cui1[sy][order], cui2[sy][order]
        first = np.sort(np.unique((sy_source << 32) | sy_target, return_index=True)[1])  # newest of repeated edges

        deleted = sorted_unique(cui1[np.isin(rel, [REL_VALUES.index(r) for r in DELETED_RELS])])
        related_code = np.asarray([RELATED_RELS.index(r) if r in RELATED_RELS else -1 for r in REL_VALUES])
        related = (related_code[rel] >= 0) & (cui2 >= 0) if len(rel) else np.zeros(0, dtype=bool)
        order = np.argsort(cui1[related], kind="stable")
        return cls(
            sy_source=sy_source[first],
            sy_target=sy_target[first],
            deleted=deleted,
            related_source=cui1[related][order],
            related_target=cui2[related][order],
            related_rel=related_code[rel[related][order]].astype(np.int8),
            retired=sorted_unique(cui1),
            counts=counts,
        )

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, str, str]]) -> RetiredCuiMap:
        """Build from ``(CUI1, VER, REL, CUI2)`` string tuples (CUI2 may be empty)."""
        rows = list(rows)
        versions = sorted({r[1] for r in rows})
        return cls.from_arrays(
            _codes(r[0] for r in rows),
            np.asarray([versions.index(r[1]) for r in rows], dtype=np.int64),
            np.asarray([REL_VALUES.index(r[2]) for r in rows], dtype=np.int64),
            _codes(r[3] for r in rows),
        )

    def __len__(self) -> int:
        return len(self.retired)

    def __contains__(self, cui: object) -> bool:
        return isinstance(cui, str) and bool(_in_sorted(self.retired, np.asarray([_code(cui)]))[0])

    # ------------------------------------------------------------------ queries
    def is_deleted(self, cui: str) -> bool:
        """Whether ``cui`` has a ``DEL``/``SUBX`` row."""
        return bool(_in_sorted(self.deleted, np.asarray([_code(cui)]))[0])

    def related(self, cui: str) -> list[tuple[str, str]]:
        """``(REL, CUI2)`` suggestions of a retired CUI (``RB``/``RN``/``RO``/``RQ`` rows)."""
        code = _code(cui)
        lo, hi = np.searchsorted(self.related_source, [code, code + 1])
        return [(RELATED_RELS[self.related_rel[i]], _cui(int(self.related_target[i]))) for i in range(lo, hi)]

    def merged_into(self, cui: str) -> list[str]:
        """Direct ``SY`` targets of ``cui`` (newest version first)."""
        code = _code(cui)
        lo, hi = np.searchsorted(self.sy_source, [code, code + 1])
        return [_cui(int(c)) for c in self.sy_target[lo:hi]]

    def resolve(self, cui: str, current: Current = None) -> str | None:
        """The current CUI that ``cui`` is (or was merged into), or None."""
        return self.resolve_many([cui], current)[0]

    def resolve_many(self, cuis: Sequence[str], current: Current = None) -> list[str | None]:
        """:meth:`resolve` for many CUIs at once (vectorised)."""
        result = self.resolve_codes(_codes(cuis), self.current_mask(current))
        return [_cui(int(c)) if c >= 0 else None for c in result]

    def status(self, cui: str, current: Current = None) -> str:
        """One of ``current``, ``mapped``, ``deleted``, ``related``, ``missing``."""
        return self._statuses([cui], self.current_mask(current))[0][0]

    # ------------------------------------------------------------------ vectorised core
    @functools.cached_property
    def _not_retired(self) -> np.ndarray:
        mask = np.ones(CUI_CODE_LIMIT, dtype=bool)
        mask[self.retired] = False
        return mask

    def current_mask(self, current: Current) -> np.ndarray:
        """Dense boolean table over CUI codes: which CUIs count as current.

        ``current`` is a KB (its concept ids), an iterable of CUI strings, or None
        (every CUI that MRCUI does not list as retired).
        """
        if current is None:
            return self._not_retired
        if isinstance(current, KnowledgeBase):
            ids = current.concepts.column("concept_id")
            cuis = ids.filter(pc.match_substring_regex(ids, f"^{CUI_PATTERN}$"))
            codes = cui_codes(cuis).astype(np.int64) if len(cuis) else _EMPTY
        else:
            codes = _codes(current)
            codes = codes[codes >= 0]
        mask = np.zeros(CUI_CODE_LIMIT, dtype=bool)
        mask[codes] = True
        return mask

    @staticmethod
    def _is_current(codes: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return (codes >= 0) & mask[np.maximum(codes, 0)]

    def resolve_codes(self, codes: np.ndarray, current: np.ndarray) -> np.ndarray:
        """Walk ``SY`` edges breadth-first to the first current CUI (``current``: a :meth:`current_mask`).

        Returns the current code per input code, -1 where none is reached. Each
        (input, CUI) pair is visited once, so cycles end the walk.
        """
        codes = np.asarray(codes, dtype=np.int64)
        result = np.full(len(codes), -1, dtype=np.int64)
        origin = np.arange(len(codes), dtype=np.int64)
        node = codes.copy()
        visited = sorted_unique((origin << 32) | np.maximum(node, 0))
        while len(origin):
            hit = self._is_current(node, current)
            if hit.any():
                resolved, first = np.unique(origin[hit], return_index=True)
                result[resolved] = node[hit][first]
                still_open = result[origin] < 0
                origin, node = origin[still_open], node[still_open]
            lo = np.searchsorted(self.sy_source, node, "left")
            width = np.searchsorted(self.sy_source, node, "right") - lo
            total = int(width.sum())
            if not total:
                break
            starts = np.repeat(np.cumsum(width) - width, width)
            edges = np.repeat(lo, width) + (np.arange(total) - starts)
            origin, node = np.repeat(origin, width), self.sy_target[edges]
            key = (origin << 32) | node
            first = np.sort(np.unique(key, return_index=True)[1])  # distinct pairs, in walk order
            first = first[~_in_sorted(visited, key[first])]
            origin, node = origin[first], node[first]
            visited = sorted_unique(np.concatenate([visited, key[first]]))
        return result

    def _sy_closure(self, code: int) -> set[int]:
        seen = {code}
        stack = [code]
        while stack:
            lo, hi = np.searchsorted(self.sy_source, [stack[-1], stack.pop() + 1])
            for target in self.sy_target[lo:hi].tolist():
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
        return seen

    def _statuses(self, cuis: Sequence[str], current: np.ndarray) -> list[tuple[str, str | None]]:
        """(status, current CUI or None) per CUI."""
        codes = _codes(cuis)
        is_current = self._is_current(codes, current)
        resolved = self.resolve_codes(codes, current)
        deleted = _in_sorted(self.deleted, codes)
        related = _in_sorted(self.related_source, codes)
        out: list[tuple[str, str | None]] = []
        for i, code in enumerate(codes.tolist()):
            if is_current[i]:
                out.append(("current", cuis[i]))
            elif resolved[i] >= 0:
                out.append(("mapped", _cui(int(resolved[i]))))
            elif deleted[i] or (
                code >= 0 and _in_sorted(self.deleted, np.asarray(sorted(self._sy_closure(code)))).any()
            ):
                out.append(("deleted", None))
            elif related[i]:
                out.append(("related", None))
            else:
                out.append(("missing", None))
        return out

    # ------------------------------------------------------------------ KB aliases
    def alias_table(self, kb_cuis: np.ndarray, counts: dict[str, Any] | None = None) -> pa.Table:
        """``alias_id -> concept_index`` rows for retired CUIs that ``SY``-map to a KB concept.

        ``kb_cuis`` are the KB's concept CUI codes, sorted (the concept order of a UMLS KB).
        """
        kb_cuis = np.asarray(kb_cuis, dtype=np.int64)
        table = cui_index_table(kb_cuis)
        sources = sorted_unique(self.sy_source)
        sources = sources[cui_lookup(table, sources) < 0]
        targets = self.resolve_codes(sources, table >= 0)
        ok = targets >= 0
        if counts is not None:
            counts.update(
                {
                    "mrcui_rows_by_rel": dict(self.counts),
                    "retired_cuis": len(self.retired),
                    "retired_aliases": int(ok.sum()),
                    "retired_merged_outside_kb": int((~ok).sum()),
                }
            )
        return pa.table(
            {
                "alias_id": cui_strings(sources[ok]),
                "concept_index": pa.array(cui_lookup(table, targets[ok]).astype(np.int32), pa.int32()),
            }
        )


# --------------------------------------------------------------------------- reading


def load_mrcui(path: str | Path, report: SkipReport | None = None) -> RetiredCuiMap:
    """Read ``MRCUI.RRF`` into a :class:`RetiredCuiMap` (streaming; bad lines as in :func:`~.rrf.read_rrf`).

    Besides the per-column checks, a row whose ``REL`` needs a target (``SY``, ``RB``, ...)
    must have a ``CUI2``.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(path, "UMLS file")
    report = report if report is not None else SkipReport()
    cui1_parts: list[np.ndarray] = []
    cui2_parts: list[np.ndarray] = []
    rel_parts: list[np.ndarray] = []
    version_parts: list[pa.Array] = []
    rel_values = pa.array(REL_VALUES, pa.string())
    columns = ["CUI1", "VER", "REL", "CUI2", "MAPIN"]
    for batch, lines in read_rrf(path, MRCUI, columns, _MRCUI_CHECKS, report):
        rel = batch.column("REL")
        cui2 = batch.column("CUI2")
        has_cui2 = pc.greater(pc.binary_length(cui2), 0)
        bad = pc.and_(pc.invert(pc.is_in(rel, value_set=pa.array(sorted(DELETED_RELS)))), pc.invert(has_cui2))
        if pc.any(bad).as_py():
            bad_np = bad.to_numpy(zero_copy_only=False)
            for row in np.flatnonzero(bad_np):
                report.handle(
                    InputFormatError(
                        path, int(lines[row]), f"REL {rel[row].as_py()} without CUI2", "a CUI2 for REL SY/RB/RN/RO/RQ"
                    ),
                    "MRCUI.RRF: missing CUI2",
                )
            batch = batch.filter(pa.array(~bad_np))
            cui2 = batch.column("CUI2")
            has_cui2 = pc.greater(pc.binary_length(cui2), 0)
        cui1_parts.append(cui_codes(batch.column("CUI1")).astype(np.int64))
        filled = cui_codes(pc.if_else(has_cui2, cui2, "C0000000")).astype(np.int64)
        cui2_parts.append(np.where(has_cui2.to_numpy(zero_copy_only=False), filled, -1))
        rel_parts.append(pc.index_in(batch.column("REL"), value_set=rel_values).to_numpy(zero_copy_only=False))
        version_parts.append(batch.column("VER"))
    if not cui1_parts:
        return RetiredCuiMap.from_arrays(_EMPTY, _EMPTY, _EMPTY, _EMPTY)
    retired = RetiredCuiMap.from_arrays(
        np.concatenate(cui1_parts),
        _version_ranks(pa.concat_arrays(version_parts)),
        np.concatenate(rel_parts),
        np.concatenate(cui2_parts),
    )
    log(f"MRCUI: {len(retired):,} retired CUIs ({retired.counts})")
    return retired


def _version_ranks(versions: pa.Array) -> np.ndarray:
    """Rank of each ``VER`` value (``2017AA`` < ``2017AB`` < ``2018AA``): higher = newer."""
    encoded = pc.dictionary_encode(versions)
    dictionary = encoded.dictionary.to_pylist()
    order = np.argsort(np.asarray(dictionary, dtype=object))
    rank = np.empty(len(dictionary), dtype=np.int64)
    rank[order] = np.arange(len(dictionary))
    return rank[encoded.indices.to_numpy(zero_copy_only=False)]


# --------------------------------------------------------------------------- mapping ids


@dataclass
class MappingReport:
    """What :func:`map_ids` did, per id occurrence (``distinct`` counts distinct ids).

    Every id lands in exactly one category: ``unchanged`` (already current), ``mapped``
    (retired, merged into a current concept, or a KB alias), ``deleted`` (retired without
    successor), ``related`` (retired, only broader/narrower/other related CUIs known: not
    mapped) or ``missing`` (unknown, or merged into a concept absent from the KB).
    """

    unchanged: int = 0
    mapped: int = 0
    deleted: int = 0
    related: int = 0
    missing: int = 0
    distinct: Counter = field(default_factory=Counter)
    mapping: dict[str, str] = field(default_factory=dict)
    suggestions: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    max_examples: int = 20

    CATEGORIES = ("unchanged", "mapped", "deleted", "related", "missing")

    @property
    def total(self) -> int:
        return self.unchanged + self.mapped + self.dropped

    @property
    def dropped(self) -> int:
        return self.deleted + self.related + self.missing

    def _add(self, raw: str, category: str, count: int, target: str | None) -> None:
        setattr(self, category, getattr(self, category) + count)
        self.distinct[category] += 1
        if category == "mapped" and target is not None:
            self.mapping[raw] = target
        elif category != "unchanged":
            kept = self.examples.setdefault(category, [])
            if len(kept) < self.max_examples:
                kept.append(raw)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            **{name: getattr(self, name) for name in self.CATEGORIES},
            "dropped": self.dropped,
            "distinct": {name: self.distinct.get(name, 0) for name in self.CATEGORIES},
            "mapping": self.mapping,
            "suggestions": {k: [list(p) for p in v] for k, v in self.suggestions.items()},
            "examples": self.examples,
        }

    def summary_lines(self) -> list[str]:
        lines = [f"ids: {self.total:,} ({sum(self.distinct.values()):,} distinct)"]
        for name in self.CATEGORIES:
            lines.append(f"  {name:<9} {getattr(self, name):>9,}  ({self.distinct.get(name, 0):,} distinct)")
        return lines


def map_ids(
    ids: Iterable[str], kb_or_map: KnowledgeBase | RetiredCuiMap, *, retired: RetiredCuiMap | None = None
) -> tuple[list[str | None], MappingReport]:
    """Map concept ids to current ones; returns (same-length list with None for dropped ids, report).

    With a :class:`KnowledgeBase`: ids that are KB concepts stay, KB aliases (retired CUIs
    merged at load time, dictionary alt ids) map to their concept, and -- when ``retired``
    is given -- other retired CUIs are resolved through it against this KB and classified
    as deleted / related / missing. With a :class:`RetiredCuiMap` alone, "current" means
    "not retired".
    """
    ids = list(ids)
    occurrences = Counter(ids)
    distinct = list(occurrences)
    report = MappingReport()
    decided: dict[str, str | None] = {}
    if isinstance(kb_or_map, KnowledgeBase):
        kb = kb_or_map
        concept_ids = kb.concept_ids
        rest: list[str] = []
        for raw in distinct:
            index = kb.resolve(raw)
            if index is None:
                rest.append(raw)
            elif concept_ids[index] == raw:
                decided[raw] = raw
                report._add(raw, "unchanged", occurrences[raw], raw)
            else:
                decided[raw] = concept_ids[index]
                report._add(raw, "mapped", occurrences[raw], concept_ids[index])
        history = retired
        current = history.current_mask(kb) if history is not None else None
    else:
        history = kb_or_map
        rest = distinct
        current = history.current_mask(None)
    if history is None:
        for raw in rest:
            decided[raw] = None
            report._add(raw, "missing", occurrences[raw], None)
    else:
        for raw, (status, target) in zip(rest, history._statuses(rest, current), strict=True):
            category = "unchanged" if status == "current" else status
            decided[raw] = target
            report._add(raw, category, occurrences[raw], target)
            if status == "related":
                report.suggestions[raw] = history.related(raw)
    return [decided[raw] for raw in ids], report
