"""Reading user text files: strict UTF-8, a leading BOM dropped, errors naming the file and line.

Every reader of a user file (corpora, dictionaries, ``xenc link`` input, split files, the types
file, YAML configs) goes through :func:`iter_lines` (line by line) or :func:`read_text` (a whole
small file, e.g. JSON), so they agree on what a line is and on how bad input is reported:

* lines are split on ``\\n`` only (``\\r\\n`` endings lose their ``\\r``; Unicode line separators
  inside PubTator text stay inside their line), numbered from 1;
* a UTF-8 byte-order mark at the start of the file is dropped (Windows editors write one);
* bytes that are not UTF-8 raise :class:`~xenc_toolkit.errors.InputFormatError` naming the file,
  the line and the offending bytes, or, with a lenient :class:`~xenc_toolkit.errors.SkipReport`,
  are counted and the line skipped;
* a missing file (or a directory) raises :class:`~xenc_toolkit.errors.MissingInputError`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from ..errors import InputFormatError, MissingInputError, SkipReport
from .progress import progress_bar

BOM = b"\xef\xbb\xbf"
PROGRESS_MIN_BYTES = 16 << 20  # files this large show a progress bar while read
UTF8_EXPECTED = "UTF-8 text (re-encode the file, e.g. iconv -f latin1 -t utf-8)"


class Line(NamedTuple):
    """One decoded input line: 1-based ``number``, ``text`` without its line ending, and whether
    it is the last line of a file that does not end with a newline (a hint of truncation)."""

    number: int
    text: str
    unterminated: bool = False


def check_file(path: str | Path, what: str = "input file") -> Path:
    """``path`` as a Path; raises :class:`MissingInputError` when it is not an existing file."""
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(path, what if not path.exists() else f"{what} (found a directory)")
    return path


def decode_error(path: str | Path, number: int, raw: bytes, error: UnicodeDecodeError) -> InputFormatError:
    """The error for line ``number`` (bytes ``raw``) that failed to decode as UTF-8."""
    bad = " ".join(f"0x{byte:02x}" for byte in raw[error.start : error.end])
    before = raw[max(0, error.start - 20) : error.start].decode("utf-8", errors="replace")
    return InputFormatError(
        path,
        number,
        f"not valid UTF-8: byte(s) {bad} at byte {error.start + 1} of the line, after {before!r}",
        UTF8_EXPECTED,
    )


def iter_lines(
    path: str | Path,
    report: SkipReport | None = None,
    *,
    what: str = "input file",
    reason: str = "not valid UTF-8",
) -> Iterator[Line]:
    """Yield the lines of a UTF-8 text file (see the module docs).

    Args:
        path: the file.
        report: a lenient report counts undecodable lines (under ``reason``) instead of raising.
        what: how a missing file is named in the error ("corpus file", "dictionary file", ...).

    Raises:
        MissingInputError: ``path`` does not exist or is a directory.
        InputFormatError: a line is not valid UTF-8 (unless ``report`` is lenient).
    """
    path = check_file(path, what)
    report = report if report is not None else SkipReport()
    size = path.stat().st_size
    with contextlib.ExitStack() as stack:
        bar = stack.enter_context(progress_bar(f"reading {path.name}", size)) if size >= PROGRESS_MIN_BYTES else None
        handle = stack.enter_context(path.open("rb"))
        done = 0
        for number, raw in enumerate(handle, start=1):
            if bar is not None:
                done += len(raw)
                if number % 8192 == 0:
                    bar.advance(done)
                    done = 0
            unterminated = not raw.endswith(b"\n")
            raw = raw[:-1] if not unterminated else raw
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if number == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                report.handle(decode_error(path, number, raw, exc), reason)
                continue
            yield Line(number, text, unterminated)
        if bar is not None:
            bar.advance(done)


def read_text(path: str | Path, *, what: str = "input file") -> str:
    """The whole text of a (small) UTF-8 file, without a leading BOM; ``\\r\\n`` stays as read.

    Raises:
        MissingInputError: ``path`` does not exist or is a directory.
        InputFormatError: the file is not valid UTF-8 (naming the line of the first bad byte).
    """
    path = check_file(path, what)
    data = path.read_bytes()
    if data.startswith(BOM):
        data = data[len(BOM) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        number = data.count(b"\n", 0, exc.start) + 1
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line_end = data.find(b"\n", exc.start)
        raw = data[line_start : line_end if line_end >= 0 else len(data)]
        local = UnicodeDecodeError(exc.encoding, raw, exc.start - line_start, exc.end - line_start, exc.reason)
        raise decode_error(path, number, raw, local) from None
