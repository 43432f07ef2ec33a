"""Mentions as JSON Lines: one :class:`Mention` object per line.

Only ``text`` is required::

    {"text": "cystic fibrosis", "gold_ids": ["C0010674"], "doc_id": "25763772",
     "left_context": "... infection in", "right_context": "(CF) patients ...", "types": ["T047"]}

Other fields: ``mention_id`` (default ``"{file stem}:{line}"``), ``doc_id`` (default: the mention
id, so each mention is its own document), ``gold_ids`` and ``types`` (lists of strings; missing
or ``[]`` = no gold id / no type), ``left_context``, ``right_context``, ``start``, ``end``
(integers or null), ``split``, ``source`` (default ``"{path}:{line}"``), ``extra`` (an object) and
``original_text`` (the surface string when ``text`` is an expanded abbreviation; as written by
:func:`write_jsonl` after ``expand_abbreviations``).
Unknown keys are kept in ``extra``. Blank lines are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import InputFormatError, SkipReport
from ..utils.io import atomic_write_text
from .mention import Line, Mention, check_context_unit, iter_lines, truncation_hint, window_chars, window_words

__all__ = ["iter_jsonl", "read_jsonl", "write_jsonl", "mention_from_json"]

OBJECT_EXPECTED = (
    'one JSON object per line with at least "text", e.g. {"text": "cystic fibrosis", "gold_ids": ["C0010674"]}'
)
_KNOWN = {
    "mention_id",
    "doc_id",
    "text",
    "gold_ids",
    "types",
    "left_context",
    "right_context",
    "start",
    "end",
    "split",
    "source",
    "extra",
    "original_text",
}


def _fail(path: str | Path, line: Line, message: str, expected: str = OBJECT_EXPECTED) -> InputFormatError:
    return InputFormatError(path, line.number, message + truncation_hint(line), expected)


def _string(data: dict, key: str, path, line: Line, default: str | None) -> str | None:
    value = data.get(key, default)
    if value is None or isinstance(value, str):
        return value
    if key in ("mention_id", "doc_id") and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _fail(path, line, f'"{key}" is {type(value).__name__} {value!r}', f'"{key}" as a string')


def _string_list(data: dict, key: str, path, line: Line) -> tuple[str, ...]:
    value = data.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(path, line, f'"{key}" is {json.dumps(value)[:80]}', f'"{key}" as a list of non-empty strings')
    return tuple(dict.fromkeys(v.strip() for v in value))


def _offset(data: dict, key: str, path, line: Line) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(path, line, f'"{key}" is {value!r}', f'"{key}" as a non-negative integer or null')
    return value


def mention_from_json(data: Any, path: str | Path, line: Line) -> Mention:
    """Validate one decoded JSON value and build a :class:`Mention` (see the module docstring).

    Raises:
        InputFormatError: not an object, no non-empty ``text``, or a field of the wrong type.
    """
    if not isinstance(data, dict):
        raise _fail(path, line, f"a JSON {type(data).__name__} instead of an object")
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        found = "missing" if "text" not in data else f"{json.dumps(text)[:40]}"
        raise _fail(path, line, f'"text" is {found}', '"text": the mention string (non-empty)')
    mention_id = _string(data, "mention_id", path, line, f"{Path(path).stem}:{line.number}")
    extra = data.get("extra") or {}
    if not isinstance(extra, dict):
        raise _fail(path, line, f'"extra" is {type(extra).__name__}', '"extra" as an object')
    extra = {**extra, **{k: v for k, v in data.items() if k not in _KNOWN}}
    start, end = _offset(data, "start", path, line), _offset(data, "end", path, line)
    if start is not None and end is not None and start >= end:
        raise _fail(path, line, f"start {start} >= end {end}", "start < end")
    return Mention(
        mention_id=mention_id or f"{Path(path).stem}:{line.number}",
        doc_id=_string(data, "doc_id", path, line, None) or mention_id or "",
        text=text,
        gold_ids=_string_list(data, "gold_ids", path, line),
        types=_string_list(data, "types", path, line),
        left_context=_string(data, "left_context", path, line, "") or "",
        right_context=_string(data, "right_context", path, line, "") or "",
        start=start,
        end=end,
        split=_string(data, "split", path, line, None),
        source=_string(data, "source", path, line, None) or f"{path}:{line.number}",
        extra=extra,
        original_text=_string(data, "original_text", path, line, None),
    )


def _encodable(data: Any) -> bool:
    """Whether decoded JSON holds only valid Unicode (``\\ud800`` escapes decode to lone surrogates)."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def iter_jsonl(
    path: str | Path,
    *,
    context_window: int | None = None,
    context_unit: str = "words",
    report: SkipReport | None = None,
) -> Iterator[Mention]:
    """Stream the mentions of a JSONL file.

    Args:
        context_window: when given, contexts are cut to this many words/characters per side.
        context_unit: ``"words"`` or ``"chars"``.
        report: line errors raise unless ``report.lenient`` (then counted and skipped).

    Raises:
        MissingInputError: the file does not exist.
        InputFormatError: bad JSON, a non-object line, no ``text``, a wrongly typed field, a
            repeated ``mention_id`` (file, line and what was expected), or no mention at all.
    """
    check_context_unit(context_unit)
    report = report if report is not None else SkipReport()
    cut = window_words if context_unit == "words" else window_chars
    seen: dict[str, int] = {}
    last = 0
    count = 0
    for line in iter_lines(path, report):
        last = line.number
        if not line.text.strip():
            continue
        try:
            data = json.loads(line.text)
        except json.JSONDecodeError as exc:
            report.handle(_fail(path, line, f"invalid JSON: {exc.msg} at column {exc.colno}"), "invalid JSON")
            continue
        except RecursionError:
            report.handle(_fail(path, line, "invalid JSON: nested too deeply"), "invalid JSON")
            continue
        if "\\u" in line.text and not _encodable(data):
            report.handle(_fail(path, line, "invalid JSON: a \\u escape of a lone surrogate"), "invalid JSON")
            continue
        try:
            mention = mention_from_json(data, path, line)
        except InputFormatError as error:
            report.handle(error, "missing text" if '"text"' in error.message else "bad field")
            continue
        if mention.mention_id in seen:
            report.handle(
                _fail(
                    path,
                    line,
                    f"mention_id {mention.mention_id!r} repeats line {seen[mention.mention_id]}",
                    "unique mention ids",
                ),
                "duplicate mention_id",
            )
            continue
        seen[mention.mention_id] = line.number
        if context_window is not None:
            mention.left_context = cut(mention.left_context, context_window, "left")
            mention.right_context = cut(mention.right_context, context_window, "right")
        count += 1
        yield mention
    if count == 0 and not seen:
        raise InputFormatError(
            path, max(last, 1), "no mention in the file" + (" (it is empty)" if last == 0 else ""), OBJECT_EXPECTED
        )


def read_jsonl(
    path: str | Path,
    *,
    context_window: int | None = None,
    context_unit: str = "words",
    report: SkipReport | None = None,
) -> list[Mention]:
    """Read every mention of a JSONL file (see :func:`iter_jsonl`)."""
    return list(iter_jsonl(path, context_window=context_window, context_unit=context_unit, report=report))


def write_jsonl(mentions: Iterable[Mention], path: str | Path) -> Path:
    """Write mentions as JSON Lines (atomically); :func:`read_jsonl` reads them back unchanged."""
    lines = [json.dumps(m.to_dict(), ensure_ascii=False) for m in mentions]
    return atomic_write_text(path, "".join(line + "\n" for line in lines))
