"""Load a UMLS Metathesaurus release (a ``META`` directory of RRF files) as a :class:`KnowledgeBase`.

Files
-----
``MRCONSO.RRF`` (names; required), ``MRSTY.RRF`` (semantic types; required),
``MRDEF.RRF`` (definitions; read with ``load_definitions=True``) and ``MRCUI.RRF``
(retired CUIs, see :mod:`.mrcui`; read with ``map_retired=True`` when present).

Speed and memory
----------------
A full ``MRCONSO.RRF`` has ~21M rows (2.7 GB). :func:`read_rrf` streams each file
through the Arrow CSV reader in blocks, reading only the needed columns; every
block is validated and filtered with ``pyarrow.compute`` and only compact arrays
of the surviving rows are kept (CUIs as int32, names as Arrow strings). The final
tables are built with Arrow hashing and NumPy sorts of integer keys, never a Python
loop over rows.

Bad lines
---------
Each value the loader uses is checked (CUI format, TUI format, SUPPRESS values, ...).
A bad line raises :class:`InputFormatError` naming the file and 1-based line, or is
counted in the :class:`SkipReport` when it is lenient. Structural problems the
Arrow reader cannot locate (wrong number of fields, invalid UTF-8, a truncated last
line) make the reader switch, from the first line of the failing block on, to a
precise line-by-line scan that finds the offending line; in lenient mode the scan
hands the rest of the file back to the block reader once past it. Lines are counted like
Arrow and Python's universal newlines do (``\\n``, ``\\r\\n`` or ``\\r``); blank lines are
errors (a real RRF file has none). Every row must end with ``|``; the last line may
lack the final newline.

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

import contextlib
import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..errors import ConfigError, InputFormatError, MissingInputError, SkipReport
from ..utils.io import file_fingerprint
from ..utils.lines import BOM
from ..utils.progress import log, progress_bar
from .model import KnowledgeBase
from .semantic_types import load_semantic_network

# --------------------------------------------------------------------------- layouts


@dataclass(frozen=True)
class RRFLayout:
    """The columns of one RRF file (each row ends with a ``|`` after the last column)."""

    name: str
    columns: tuple[str, ...]

    @property
    def expected(self) -> str:
        return f"{len(self.columns)} fields each followed by '|': {'|'.join(self.columns)}|"


MRCONSO = RRFLayout(
    "MRCONSO.RRF",
    (
        "CUI",
        "LAT",
        "TS",
        "LUI",
        "STT",
        "SUI",
        "ISPREF",
        "AUI",
        "SAUI",
        "SCUI",
        "SDUI",
        "SAB",
        "TTY",
        "CODE",
        "STR",
        "SRL",
        "SUPPRESS",
        "CVF",
    ),
)
MRSTY = RRFLayout("MRSTY.RRF", ("CUI", "TUI", "STN", "STY", "ATUI", "CVF"))
MRDEF = RRFLayout("MRDEF.RRF", ("CUI", "AUI", "ATUI", "SATUI", "SAB", "DEF", "SUPPRESS", "CVF"))
MRCUI = RRFLayout("MRCUI.RRF", ("CUI1", "VER", "REL", "RELA", "MAPREASON", "CUI2", "MAPIN"))


@dataclass(frozen=True)
class FieldCheck:
    """What a valid value of one column looks like (checked identically by both readers)."""

    expected: str
    pattern: str | None = None  # full-match regular expression
    values: frozenset[str] | None = None
    allow_empty: bool = False

    @functools.cached_property
    def _regex(self) -> re.Pattern[str] | None:
        return re.compile(self.pattern) if self.pattern else None

    def ok(self, value: str) -> bool:
        """Whether one value is valid."""
        if not value:
            return self.allow_empty
        if self.values is not None and value not in self.values:
            return False
        return self._regex is None or self._regex.fullmatch(value) is not None

    def ok_array(self, array: pa.Array) -> pa.Array:
        """Boolean array: which values of ``array`` are valid."""
        nonempty = pc.greater(pc.binary_length(array), 0)
        ok = nonempty
        if self.values is not None:
            ok = pc.and_(ok, pc.is_in(array, value_set=pa.array(sorted(self.values), pa.string())))
        if self.pattern is not None:
            ok = pc.and_(ok, pc.match_substring_regex(array, f"^(?:{self.pattern})$"))
        if self.allow_empty:
            ok = pc.or_(ok, pc.invert(nonempty))
        return ok

    @staticmethod
    def problem(column: str, value: str) -> str:
        return f"empty {column}" if not value else f"{column} {value!r} is not valid"


CUI_PATTERN = r"C[0-9]{7}"
CUI_CHECK = FieldCheck("a CUI: C and 7 digits, e.g. C0004057", pattern=CUI_PATTERN)
TUI_CHECK = FieldCheck("a TUI: T and 3 digits, e.g. T047", pattern=r"T[0-9]{3}")
SUPPRESS_CHECK = FieldCheck("a SUPPRESS value N, O, E or Y", values=frozenset("NOEY"))
NONEMPTY = FieldCheck("a non-empty value")

_END = "_end"  # the empty field after the trailing '|'
_BLOCK_SIZE = 8 << 20  # bigger blocks are slower and Arrow reads several ahead: 32 MiB costs ~1.3 GB
_SLOW_BATCH_ROWS = 1 << 16
_RESUME_AFTER = 10_000  # clean lines the line scan reads past a bad line before handing back to Arrow
_PROGRESS_MIN_BYTES = 32 << 20
_SURROGATES = re.compile("[\udc80-\udcff]")
_Problem = tuple[InputFormatError, str]  # an error and its skip reason


# --------------------------------------------------------------------------- reading


@dataclass
class _Segment:
    """Where a reader starts: the byte offset of the start of line ``first_line``."""

    first_line: int
    offset: int


@contextlib.contextmanager
def _file_progress(path: Path, description: str) -> Iterator[Any]:
    """A bytes-read progress bar for big files; None for small ones."""
    size = path.stat().st_size
    if size < _PROGRESS_MIN_BYTES:
        yield None
        return
    with progress_bar(description, total=size) as bar:
        yield bar


def read_rrf(
    path: str | Path,
    layout: RRFLayout,
    columns: Sequence[str],
    checks: Mapping[str, FieldCheck],
    report: SkipReport | None = None,
    *,
    block_size: int | None = None,
) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    """Stream the valid rows of an RRF file.

    Yields ``(batch, lines)``: an Arrow record batch of ``columns`` (all strings) and the
    1-based line numbers (int64) of its rows, in file order. ``checks`` maps columns to
    the :class:`FieldCheck` their values must pass; every row must have exactly
    ``len(layout.columns)`` fields and a trailing ``|``. Bad rows raise
    :class:`InputFormatError` or, when ``report`` is lenient, are counted there and skipped.
    ``block_size`` is the Arrow read block in bytes (default 8 MiB).

    The Arrow block reader does the work; when a block fails to parse, a line-by-line
    scan takes over from the block's first line, locates the bad line and, once well
    past it (lenient mode), hands the rest of the file back to the block reader.
    """
    path = Path(path)
    report = report if report is not None else SkipReport()
    block_size = block_size or _BLOCK_SIZE
    unknown = [c for c in (*columns, *checks) if c not in layout.columns]
    if unknown:
        raise ValueError(f"{layout.name} has no column(s) {unknown}")
    with open(path, "rb") as head:  # a UTF-8 byte-order mark is not part of the first CUI
        segment: _Segment | None = _Segment(first_line=1, offset=len(BOM) if head.read(len(BOM)) == BOM else 0)
    with _file_progress(path, f"reading {path.name}") as bar:
        while segment is not None:
            outcome: dict[str, Any] = {}
            yield from _read_fast(path, layout, columns, checks, report, block_size, segment, outcome, bar)
            if "error" not in outcome:
                return
            resume_line = segment.first_line + outcome["rows"]
            if report.lenient:
                first_line = str(outcome["error"]).splitlines()[0]
                log(f"{path}: {first_line}; reading line by line from line {resume_line}", style="yellow")
            segment = yield from _read_slow(path, layout, columns, checks, report, segment, resume_line, bar)


def _read_fast(
    path: Path,
    layout: RRFLayout,
    columns: Sequence[str],
    checks: Mapping[str, FieldCheck],
    report: SkipReport,
    block_size: int,
    segment: _Segment,
    outcome: dict[str, Any],
    bar: Any,
) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    """The Arrow block reader from ``segment`` on.

    Sets ``outcome["rows"]`` (rows read) and, when a block fails to parse (wrong number
    of fields, invalid UTF-8), ``outcome["error"]`` and stops.
    """
    wanted = list(dict.fromkeys([*columns, *checks, _END]))
    read_options = pacsv.ReadOptions(column_names=[*layout.columns, _END], block_size=block_size, use_threads=True)
    parse_options = pacsv.ParseOptions(
        delimiter="|", quote_char=False, double_quote=False, escape_char=False, ignore_empty_lines=False
    )
    convert_options = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in wanted},
        include_columns=wanted,
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
        check_utf8=True,
    )
    outcome["rows"] = 0
    with pa.OSFile(str(path)) as source:
        source.seek(segment.offset)
        try:
            reader = pacsv.open_csv(
                source, read_options=read_options, parse_options=parse_options, convert_options=convert_options
            )
        except pa.ArrowInvalid as error:
            if source.size() > segment.offset:  # not just an empty remainder
                outcome["error"] = error
            return
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except pa.ArrowInvalid as error:
                outcome["error"] = error
                return
            first = segment.first_line + outcome["rows"]
            outcome["rows"] += batch.num_rows
            lines = np.arange(first, first + batch.num_rows, dtype=np.int64)
            batch, lines = _validate_batch(path, layout, batch, lines, checks, report)
            if bar is not None:
                bar.update(completed=source.tell())
            if batch.num_rows:
                yield batch.select(list(columns)), lines


def _validate_batch(
    path: Path,
    layout: RRFLayout,
    batch: pa.RecordBatch,
    lines: np.ndarray,
    checks: Mapping[str, FieldCheck],
    report: SkipReport,
) -> tuple[pa.RecordBatch, np.ndarray]:
    """Apply ``checks`` to a block; report each bad row (in line order) and drop it."""
    ok = pc.equal(batch.column(_END), "")
    for name, check in checks.items():
        ok = pc.and_(ok, check.ok_array(batch.column(name)))
    if pc.all(ok).as_py():
        return batch, lines
    ok_np = ok.to_numpy(zero_copy_only=False)
    for row in np.flatnonzero(~ok_np):
        line = int(lines[row])
        if batch.column(_END)[row].as_py():
            report.handle(
                InputFormatError(path, line, "too many fields", layout.expected),
                f"{layout.name}: wrong number of fields",
            )
            continue
        for name in layout.columns:
            check = checks.get(name)
            value = batch.column(name)[row].as_py() if check is not None else ""
            if check is not None and not check.ok(value):
                report.handle(
                    InputFormatError(path, line, FieldCheck.problem(name, value), check.expected),
                    f"{layout.name}: bad {name}",
                )
                break
    return batch.filter(pa.array(ok_np)), lines[ok_np]


def _universal_lines(handle: Any, offset: int) -> Iterator[tuple[bytes, bool, int | None]]:
    """Lines of a binary file split like Arrow and Python's universal newlines (``\n``, ``\r\n``, ``\r``).

    Yields (line without its terminator, whether it had one, byte offset just after it --
    None inside a physical line that a lone ``\r`` splits).
    """
    for raw in handle:
        offset += len(raw)
        if raw.endswith(b"\n"):
            body, terminated = raw[: -2 if raw.endswith(b"\r\n") else -1], True
        else:
            body, terminated = raw, False
        if b"\r" not in body:
            yield body, terminated, offset
            continue
        pieces = body.split(b"\r")
        if not terminated and body.endswith(b"\r"):  # a final lone \r ends the last line
            pieces.pop()
            terminated = True
        for piece in pieces[:-1]:
            yield piece, True, None
        yield pieces[-1], terminated, offset


def _read_slow(
    path: Path,
    layout: RRFLayout,
    columns: Sequence[str],
    checks: Mapping[str, FieldCheck],
    report: SkipReport,
    segment: _Segment,
    start_line: int,
    bar: Any,
) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    """The precise line-by-line reader from ``start_line`` (at or after ``segment``).

    Returns (as the generator's value) where the block reader can resume: after it has
    skipped a bad line and read :data:`_RESUME_AFTER` good ones; None at the end of file.
    """
    positions = [layout.columns.index(name) for name in columns]
    checked = sorted((layout.columns.index(name), name, check) for name, check in checks.items())
    text_positions = sorted({*positions, *(position for position, _, _ in checked)})
    values: list[list[str]] = [[] for _ in columns]
    numbers: list[int] = []
    seen_problem = False
    clean = 0

    def flush() -> tuple[pa.RecordBatch, np.ndarray]:
        batch = pa.record_batch([pa.array(v, pa.string()) for v in values], names=list(columns))
        lines = np.asarray(numbers, dtype=np.int64)
        for v in values:
            v.clear()
        numbers.clear()
        return batch, lines

    with open(path, "rb") as handle:
        handle.seek(segment.offset)
        for number, (body, terminated, end) in enumerate(_universal_lines(handle, segment.offset), segment.first_line):
            if number < start_line:
                continue
            fields, problem = _parse_line(path, layout, number, body, terminated, text_positions, checked)
            if problem is not None:
                report.handle(*problem)
                seen_problem, clean = True, 0
                continue
            for target, position in zip(values, positions, strict=True):
                target.append(fields[position])
            numbers.append(number)
            clean += 1
            if seen_problem and clean >= _RESUME_AFTER and end is not None:
                yield flush()
                return _Segment(first_line=number + 1, offset=end)
            if len(numbers) >= _SLOW_BATCH_ROWS:
                if bar is not None and end is not None:
                    bar.update(completed=end)
                yield flush()
    if numbers:
        yield flush()
    return None


def _parse_line(
    path: Path,
    layout: RRFLayout,
    number: int,
    body: bytes,
    terminated: bool,
    text_positions: Sequence[int],
    checked: Sequence[tuple[int, str, FieldCheck]],
) -> tuple[list[str], _Problem | None]:
    """Split and check one line: (fields, None) when valid, else (fields so far, problem)."""
    n_fields = len(layout.columns)
    if not body:
        return [], (InputFormatError(path, number, "empty line", layout.expected), f"{layout.name}: empty line")
    text = body.decode("utf-8", "surrogateescape")
    fields = text.split("|")
    if len(fields) != n_fields + 1 or fields[-1]:
        found = len(fields) if fields[-1] else len(fields) - 1
        if found < n_fields and not terminated:
            message = f"truncated last line: {found} of {n_fields} fields and no trailing newline"
        elif found == n_fields:
            message = "no trailing '|' after the last field"
        elif found > n_fields:
            message = f"too many fields ({found})"
        else:
            message = f"{found} of {n_fields} fields"
        error = InputFormatError(path, number, message, layout.expected)
        return fields, (error, f"{layout.name}: wrong number of fields")
    if not body.isascii() and _SURROGATES.search(text):
        for position in text_positions:
            value = fields[position]
            if _SURROGATES.search(value):
                raw = value.encode("utf-8", "surrogateescape")
                error = InputFormatError(
                    path, number, f"{layout.columns[position]} is not valid UTF-8: {raw!r}", "UTF-8 text"
                )
                return fields, (error, f"{layout.name}: invalid UTF-8")
    for position, name, check in checked:
        value = fields[position]
        if not check.ok(value):
            error = InputFormatError(path, number, FieldCheck.problem(name, value), check.expected)
            return fields, (error, f"{layout.name}: bad {name}")
    return fields, None


# --------------------------------------------------------------------------- helpers


def cui_codes(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """``C0004057`` -> 4057 (int32) for validated CUI strings."""
    return pc.cast(pc.utf8_slice_codeunits(array, 1), pa.int32()).to_numpy(zero_copy_only=False)


def cui_strings(codes: np.ndarray) -> pa.Array:
    """4057 -> ``C0004057`` for int CUI codes."""
    digits = pc.utf8_lpad(pc.cast(pa.array(codes, pa.int32()), pa.string()), 7, "0")
    return pc.binary_join_element_wise("C", digits, "")


def _concat_strings(chunks: list[pa.Array]) -> pa.Array:
    """One contiguous string array (large_string only when it must exceed 2 GiB)."""
    if not chunks:
        return pa.array([], pa.string())
    total = sum(chunk.nbytes for chunk in chunks)
    if total >= (1 << 31) - (1 << 24):
        chunks = [chunk.cast(pa.large_string()) for chunk in chunks]
    return pa.concat_arrays(chunks)


def _in_set(array: pa.Array, values: Sequence[str]) -> pa.Array:
    return pc.is_in(array, value_set=pa.array(sorted(set(values)), pa.string()))


CUI_CODE_LIMIT = 10**7
"""CUI codes (the 7 digits) are below this, so dense lookup tables indexed by code are small (40 MB)."""


def cui_index_table(codes: np.ndarray) -> np.ndarray:
    """Dense table: ``table[code]`` = position of ``code`` in ``codes``, -1 for other codes."""
    table = np.full(CUI_CODE_LIMIT, -1, dtype=np.int32)
    table[np.asarray(codes, dtype=np.int64)] = np.arange(len(codes), dtype=np.int32)
    return table


def cui_lookup(table: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``table[codes]`` (int64), with -1 for codes that are -1 (not a CUI)."""
    codes = np.asarray(codes, dtype=np.int64)
    found = table[np.maximum(codes, 0)].astype(np.int64)
    return np.where(codes >= 0, found, -1)


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (``np.unique`` without its slow hash path on NumPy >= 2.3)."""
    ordered = np.sort(values)
    if not len(ordered):
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


# --------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class UmlsFilters:
    """The row and concept filters of :func:`load_umls` (empty tuple = keep all)."""

    languages: tuple[str, ...] = ("ENG",)
    sources: tuple[str, ...] = ()
    exclude_sources: tuple[str, ...] = ()
    suppress: tuple[str, ...] = ("O", "E", "Y")
    term_types: tuple[str, ...] = ()
    semantic_types: tuple[str, ...] = ()
    semantic_groups: tuple[str, ...] = ()

    def validate(self) -> None:
        """Raise :class:`ConfigError` for filter values that can never match."""
        bad_suppress = [value for value in self.suppress if value not in "NOEY" or len(value) != 1]
        if bad_suppress:
            raise ConfigError(f"kb.suppress: {bad_suppress} are not SUPPRESS values (N, O, E, Y)")
        bad_tuis = [tui for tui in self.semantic_types if not TUI_CHECK.ok(tui)]
        if bad_tuis:
            raise ConfigError(f"kb.semantic_types: {bad_tuis} are not TUIs (T and 3 digits, e.g. T047)")
        known = load_semantic_network().group_names
        bad_groups = [group for group in self.semantic_groups if group not in known]
        if bad_groups:
            raise ConfigError(f"kb.semantic_groups: unknown group(s) {bad_groups} (known: {', '.join(sorted(known))})")

    def allowed_tuis(self) -> set[str]:
        """TUIs kept by the semantic type/group filters (empty = no filter)."""
        network = load_semantic_network()
        groups = set(self.semantic_groups)
        return set(self.semantic_types) | {tui for tui, group in network.type_groups.items() if group in groups}

    def as_dict(self) -> dict[str, list[str]]:
        return {name: list(getattr(self, name)) for name in self.__dataclass_fields__}


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
            from .mrcui import load_mrcui  # mrcui builds on this module's RRF reader

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
