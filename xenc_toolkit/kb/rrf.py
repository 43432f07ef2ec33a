"""Read UMLS RRF files: column layouts, per-column value checks and a streaming, validating reader.

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
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..errors import InputFormatError, SkipReport
from ..utils.lines import BOM
from ..utils.progress import log, progress_bar

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
