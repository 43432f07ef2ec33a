"""Dictionary knowledge bases: MEDIC/BioSyn-style files and simple TSV files.

MEDIC-style (CTD's disease vocabulary as distributed with BioSyn)::

    ID[|altID...]||name|synonym|...

The first id is the concept id, written with its namespace: a bare MeSH id (``D012345``,
``C012345``) becomes ``MESH:D012345`` and a bare OMIM number ``OMIM:123456``, as CTD itself
writes them, so that outputs never show a number whose vocabulary is a guess; ids that carry a
prefix, and other ids, are kept as written. The other ids before
``||`` are alternative ids. The first name is the preferred name; HTML entities in
names (``&apos;``, ``&#233;``) are unescaped. Alternative ids and the other spelling
of every MeSH/OMIM id (``D012345`` <-> ``MESH:D012345``, ``123456`` <-> ``OMIM:123456``)
become KB aliases, so ``kb.resolve`` finds a concept from the gold ids of NCBI-disease
(``D008107``, ``OMIM:123456``) or of CTD's newer prefixed files. Concept ids win over
aliases, and the spellings of concept ids win over alternative ids.

The MEDIC root line ``C||Diseases`` is kept by default as concept ``C`` named
"Diseases", as BioSyn does (the published counts -- 11,915 concepts, 76,237 names --
include it); ``keep_root=False`` drops it (counted in the KB metadata).

TSV::

    id<TAB>name[<TAB>type]

One name per line; several lines with the same id are synonyms (the first line's name
is the preferred name). The optional type column holds a TUI or any type label
(several comma-separated ones allowed). A first line reading ``id<TAB>name[<TAB>type]``
is taken as a header and skipped.

Both readers skip blank lines, accept ``\\r\\n`` line ends, raise
:class:`InputFormatError` with the 1-based line number on a bad line, or count it in a
lenient :class:`SkipReport`.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from ..errors import InputFormatError, MissingInputError, SkipReport
from ..utils.io import file_fingerprint
from ..utils.lines import iter_lines
from ..utils.progress import log
from .model import ConceptRecord, KnowledgeBase

MEDIC_ROOT_ID = "C"
_MEDIC_EXPECTED = "ID[|altID...]||name[|synonym...]"
_TSV_EXPECTED = "id<TAB>name[<TAB>type]"
_MESH = re.compile(r"[CD](?:[0-9]{6}|[0-9]{9})")  # not C + 7 digits: that is a UMLS CUI
_OMIM = re.compile(r"[0-9]{6}")
_PREFIXES = {"MESH": _MESH, "OMIM": _OMIM}


def namespaced_id(concept_id: str) -> str:
    """``D012345`` -> ``MESH:D012345``, ``123456`` -> ``OMIM:123456``; any other id as it is."""
    if ":" not in concept_id:
        for name, pattern in _PREFIXES.items():
            if pattern.fullmatch(concept_id):
                return f"{name}:{concept_id}"
    return concept_id


def id_variants(concept_id: str) -> list[str]:
    """Other spellings of a MeSH or OMIM id: ``D012345`` <-> ``MESH:D012345``, ``123456`` <-> ``OMIM:123456``."""
    prefix, sep, local = concept_id.partition(":")
    if sep:
        pattern = _PREFIXES.get(prefix.upper())
        if pattern is None or not pattern.fullmatch(local):
            return []
        return [local] if prefix == prefix.upper() else [local, f"{prefix.upper()}:{local}"]
    for name, pattern in _PREFIXES.items():
        if pattern.fullmatch(concept_id):
            return [f"{name}:{concept_id}"]
    return []


def _lines(path: Path, report: SkipReport, reason: str) -> Iterator[tuple[int, str]]:
    """(1-based number, text without line end) of each non-blank line (strict UTF-8, BOM dropped)."""
    for line in iter_lines(path, report, what="dictionary file", reason=f"{reason}: invalid UTF-8"):
        if line.text.strip():
            yield line.number, line.text


def _line_count(path: Path) -> int:
    """Lines in a file (a last line without a newline counts)."""
    data = path.read_bytes()
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def _no_concepts(path: Path, skipped: int, expected: str, note: str = "") -> InputFormatError:
    """The error for a dictionary that yields no concept (empty, blank or only bad or dropped lines)."""
    last_line = _line_count(path)
    if not last_line:
        return InputFormatError(path, 1, "the dictionary file is empty", expected)
    detail = "".join(f", {part}" for part in (f"{skipped:,} bad line(s) skipped" if skipped else "", note) if part)
    return InputFormatError(path, last_line, f"no concepts found in {last_line:,} line(s){detail}", expected)


def _alias_table(kb: KnowledgeBase, candidates: list[tuple[str, int]]) -> pa.Table:
    """Alias rows in priority order: first claim of an id wins, concept ids are never aliases."""
    concept_ids = set(kb.concept_ids)
    seen: set[str] = set()
    ids: list[str] = []
    indices: list[int] = []
    for alias, index in candidates:
        if alias in concept_ids or alias in seen:
            continue
        seen.add(alias)
        ids.append(alias)
        indices.append(index)
    return pa.table({"alias_id": pa.array(ids, pa.string()), "concept_index": pa.array(indices, pa.int32())})


def _check_file(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(path, what)
    return path


def load_medic(path: str | Path, report: SkipReport | None = None, *, keep_root: bool = True) -> KnowledgeBase:
    """Load a MEDIC/BioSyn-style dictionary (``ID[|altID...]||name|synonym|...``); see the module docs."""
    path = _check_file(path, "dictionary file")
    report = report if report is not None else SkipReport()
    records: list[ConceptRecord] = []
    alt_ids: list[list[str]] = []
    skipped_root = 0
    bad_before = report.total
    for number, text in _lines(path, report, path.name):
        head, sep, rest = text.partition("||")
        ids = [i.strip() for i in head.split("|")]
        names = [html.unescape(n).strip() for n in rest.split("|")]
        problem = None
        if not sep:
            problem = "no '||' between the ids and the names"
        elif not all(ids):
            problem = f"empty id in {head!r}"
        elif not all(names):
            problem = "empty name" if rest else "no names after '||'"
        if problem:
            report.handle(InputFormatError(path, number, problem, _MEDIC_EXPECTED), f"{path.name}: bad line")
            continue
        if ids == [MEDIC_ROOT_ID] and not keep_root:
            skipped_root += 1
            continue
        records.append(ConceptRecord(concept_id=namespaced_id(ids[0]), names=names, preferred_name=names[0]))
        alt_ids.append(ids[1:])
    if not records:
        root = "the root line dropped (keep_root=False)" if skipped_root else ""
        raise _no_concepts(path, report.total - bad_before, _MEDIC_EXPECTED, root)
    kb = KnowledgeBase.from_records(records)
    position = kb.id_to_index  # concept ids only at this point (no aliases yet)
    candidates: list[tuple[str, int]] = []
    for record in records:
        candidates.extend((variant, position[record.concept_id]) for variant in id_variants(record.concept_id))
    for record, alts in zip(records, alt_ids, strict=True):
        index = position[record.concept_id]
        candidates.extend((alt, index) for alt in alts)
        candidates.extend((variant, index) for alt in alts for variant in id_variants(alt))
    kb = dataclasses.replace(kb, aliases=_alias_table(kb, candidates))
    kb.metadata.update(
        {
            "source": "medic",
            "path": str(path),
            "files": {"dictionary": {"file": path.name, "fingerprint": file_fingerprint(path)}},
            "counts": {
                "lines": len(records) + skipped_root,
                "merged_duplicate_ids": len(records) - kb.n_concepts,
                "root_lines_dropped": skipped_root,
            },
        }
    )
    log(f"MEDIC dictionary: {kb.n_concepts:,} concepts, {kb.n_names:,} names, {kb.aliases.num_rows:,} aliases")
    return kb


def _is_tsv_header(fields: list[str]) -> bool:
    return [f.strip().lower() for f in fields] in (["id", "name"], ["id", "name", "type"])


def load_tsv(path: str | Path, report: SkipReport | None = None) -> KnowledgeBase:
    """Load a ``id<TAB>name[<TAB>type]`` dictionary (one name per line); see the module docs."""
    path = _check_file(path, "dictionary file")
    report = report if report is not None else SkipReport()
    records: list[ConceptRecord] = []
    first = True
    header = False
    bad_before = report.total
    for number, text in _lines(path, report, path.name):
        fields = text.split("\t")
        if first:
            first = False
            if _is_tsv_header(fields):
                header = True
                continue
        problem = None
        if len(fields) not in (2, 3):
            problem = f"{len(fields)} tab-separated field(s)"
        elif not fields[0].strip():
            problem = "empty id"
        elif not fields[1].strip():
            problem = "empty name"
        if problem:
            report.handle(InputFormatError(path, number, problem, _TSV_EXPECTED), f"{path.name}: bad line")
            continue
        types = [t.strip() for t in fields[2].split(",") if t.strip()] if len(fields) == 3 else []
        records.append(ConceptRecord(concept_id=fields[0].strip(), names=[fields[1].strip()], types=types))
    if not records:
        raise _no_concepts(path, report.total - bad_before, _TSV_EXPECTED)
    kb = KnowledgeBase.from_records(records)
    kb.metadata.update(
        {
            "source": "tsv",
            "path": str(path),
            "files": {"dictionary": {"file": path.name, "fingerprint": file_fingerprint(path)}},
            "counts": {"lines": len(records), "header": header},
        }
    )
    log(f"TSV dictionary: {kb.n_concepts:,} concepts, {kb.n_names:,} names")
    return kb
