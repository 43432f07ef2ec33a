"""Reading a UTF-8 text file line by line, the same way for every reader.

A UTF-8 byte-order mark at the start is dropped (Windows tools write one: it must not become part
of the first id); a line that is not valid UTF-8 is an :class:`~xenc_toolkit.errors.InputFormatError`
naming the file and the 1-based line (or, with a lenient :class:`~xenc_toolkit.errors.SkipReport`,
a counted skip); line ends (``\\n``, ``\\r\\n``) are removed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..errors import InputFormatError, SkipReport

BOM = b"\xef\xbb\xbf"


def text_lines(
    path: str | Path, report: SkipReport | None = None, reason: str = "invalid UTF-8", *, skip_blank: bool = True
) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of each line (blank lines skipped unless ``skip_blank`` is False)."""
    path = Path(path)
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            if number == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                bad = raw[max(0, error.start - 10) : error.end + 10]
                problem = InputFormatError(path, number, f"not valid UTF-8 near {bad!r}", "UTF-8 text")
                if report is None:
                    raise problem from None
                report.handle(problem, reason)
                continue
            text = text.rstrip("\r\n")
            if text.strip() or not skip_blank:
                yield number, text
