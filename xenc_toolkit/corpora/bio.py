"""Token-level BIO corpora whose tags carry concept ids (MedMentions ``full_dev_bio_cui.tsv``).

One token per line, ``token<TAB>tag`` with the tag ``O``, ``B-<id>`` (a mention starts) or
``I-<id>`` (it goes on). Sentences are separated by a line holding only a tab (or an empty line).
Line endings may be CRLF. There are no document ids and no character offsets, so each sentence
is a pseudo-document ``s{n}`` (1-based, counting non-empty sentences) and mentions are numbered
``s{n}:{k}`` within it; mention strings are their tokens joined by single spaces and the context
is the rest of the sentence.

**Stray I- tags.** An ``I-<id>`` tag that does not continue an open mention of the same id (no
mention open, or the open one has another id) is handled by ``stray_inside``:

* ``"outside"`` (default) -- the stray fragment (the I- token and any I- tokens of the same
  id right after it) is read as ``O`` and counted once in the report (``stray I- tag``). This is consistent with the real file: its 305 stray I- tags are
  fragments of a mention cut by a wrong sentence split (``aer .`` | ``hydrophila``), and
  reading them as outside gives the published counts (66,725 mentions, 12,233 CUIs); reading
  them as new mentions would give 67,030 and 12,239.
* ``"begin"`` -- the tag starts a new mention (IOB1 reading), counted as well.
* ``"error"`` -- an :class:`~xenc_toolkit.errors.InputFormatError` (counted skip when lenient).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import InputFormatError, SkipReport
from ..utils.progress import log
from .mention import Line, Mention, check_context_unit, context_window, iter_lines, record_skip, truncation_hint

__all__ = ["BioSentence", "iter_bio_sentences", "read_bio_sentences", "read_bio", "bio_mentions"]

_TAG = re.compile(r"^([BI])-(.*)$")
LINE_EXPECTED = (
    "'token<TAB>tag' with tag O, B-<concept id> or I-<concept id>, or a line holding only a tab between sentences"
)
TAG_EXPECTED = "O, B-<concept id> or I-<concept id>"
StrayInside = Literal["outside", "begin", "error"]


@dataclass
class BioSentence:
    """One sentence of a BIO file: tokens, their tags and the 1-based line of each token."""

    index: int
    tokens: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)

    @property
    def doc_id(self) -> str:
        return f"s{self.index}"

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


def _check_line(path: str, line: Line) -> tuple[str, str]:
    """Split and validate ``token<TAB>tag``; raise :class:`InputFormatError` when malformed."""
    fields = line.text.split("\t")
    hint = truncation_hint(line)
    if len(fields) != 2:
        raise InputFormatError(path, line.number, f"{len(fields)} tab-separated column(s){hint}", LINE_EXPECTED)
    token, tag = fields
    if not token.strip():
        raise InputFormatError(path, line.number, f"empty token (tag {tag!r}){hint}", LINE_EXPECTED)
    if tag != "O":
        match = _TAG.match(tag)
        if match is None:
            raise InputFormatError(path, line.number, f"bad BIO tag {tag!r}{hint}", TAG_EXPECTED)
        concept = match.group(2)
        if not concept.strip():
            raise InputFormatError(path, line.number, f"empty concept id in tag {tag!r}{hint}", TAG_EXPECTED)
        if any(ch.isspace() for ch in concept):
            raise InputFormatError(path, line.number, f"whitespace inside the concept id of tag {tag!r}", TAG_EXPECTED)
    return token, tag


def iter_bio_sentences(path: str | Path, report: SkipReport | None = None) -> Iterator[BioSentence]:
    """Stream the sentences of a BIO file, every line validated (tags are not yet paired up).

    Raises:
        MissingInputError: the file does not exist.
        InputFormatError: a malformed line (unless ``report.lenient``: then counted and skipped),
            or a file without any token.
    """
    report = report if report is not None else SkipReport()
    path_text = str(path)
    sentence = BioSentence(1)
    last = 0
    for line in iter_lines(path, report):
        last = line.number
        if not line.text.strip():
            if sentence.tokens:
                yield sentence
                sentence = BioSentence(sentence.index + 1)
            continue
        try:
            token, tag = _check_line(path_text, line)
        except InputFormatError as error:
            report.handle(error, _reason(error.message))
            continue
        sentence.tokens.append(token)
        sentence.tags.append(tag)
        sentence.lines.append(line.number)
    if sentence.tokens:
        yield sentence
    elif sentence.index == 1:
        raise InputFormatError(
            path,
            max(last, 1),
            "no token in the file" + (" (it is empty)" if last == 0 else ""),
            LINE_EXPECTED,
        )


def _reason(message: str) -> str:
    if "column" in message:
        return "wrong column count"
    if "empty concept id" in message:
        return "empty concept id"
    if "bad BIO tag" in message:
        return "bad BIO tag"
    return message.split(" (")[0]


def read_bio_sentences(path: str | Path, report: SkipReport | None = None) -> list[BioSentence]:
    """All sentences of a BIO file (see :func:`iter_bio_sentences`)."""
    return list(iter_bio_sentences(path, report))


def bio_mentions(
    sentence: BioSentence,
    *,
    path: str | Path = "<bio>",
    context_window_size: int = 16,
    context_unit: str = "words",
    types_map: Mapping[str, Sequence[str]] | None = None,
    stray_inside: StrayInside = "outside",
    report: SkipReport | None = None,
) -> list[Mention]:
    """Pair the tags of one sentence into mentions (see the module docstring for stray I- tags)."""
    report = report if report is not None else SkipReport()
    spans: list[tuple[int, int, str]] = []  # token start, token end (exclusive), concept id
    open_span: list | None = None
    stray: str | None = None  # id of a stray I- fragment being read as O
    for i, tag in enumerate(sentence.tags):
        if tag == "O":
            open_span = stray = None
            continue
        kind, concept = tag[0], tag[2:]
        if kind == "I" and open_span is not None and open_span[2] == concept:
            open_span[1] = i + 1
            continue
        if kind == "I" and stray == concept:
            continue  # the rest of a stray fragment already counted
        stray = None
        if kind == "I":
            previous = sentence.tags[i - 1] if i else "sentence start"
            where = f"{path}:{sentence.lines[i]}: {tag} after {previous}"
            if stray_inside == "error":
                report.handle(
                    InputFormatError(
                        path,
                        sentence.lines[i],
                        f"stray I- tag: {tag} continues no mention (previous tag: {previous})",
                        f"B-{concept} before I-{concept}",
                    ),
                    "stray I- tag",
                )
                open_span, stray = None, concept
                continue
            if stray_inside == "outside":
                record_skip(report, "stray I- tag (fragment read as O)", where)
                open_span, stray = None, concept
                continue
            record_skip(report, "stray I- tag (started a new mention)", where)
        open_span = [i, i + 1, concept]
        spans.append(open_span)  # type: ignore[arg-type]
    if not spans:
        return []
    text = sentence.text
    starts: list[int] = []
    position = 0
    for token in sentence.tokens:
        starts.append(position)
        position += len(token) + 1
    mentions = []
    for k, (first, stop, concept) in enumerate(spans, start=1):
        char_start, char_end = starts[first], starts[stop - 1] + len(sentence.tokens[stop - 1])
        left, right = context_window(text, char_start, char_end, context_window_size, context_unit)
        mentions.append(
            Mention(
                mention_id=f"{sentence.doc_id}:{k}",
                doc_id=sentence.doc_id,
                text=text[char_start:char_end],
                gold_ids=(concept,),
                types=tuple(types_map.get(concept, ())) if types_map else (),
                left_context=left,
                right_context=right,
                source=f"{path}:{sentence.lines[first]}",
                extra={"token_start": first, "token_end": stop},
            )
        )
    return mentions


def read_bio(
    path: str | Path,
    *,
    context_window: int = 16,
    context_unit: str = "words",
    types_map: Mapping[str, Sequence[str]] | None = None,
    stray_inside: StrayInside = "outside",
    report: SkipReport | None = None,
    sentence_texts: dict[str, str] | None = None,
    strays_in_log: bool = True,
) -> list[Mention]:
    """Read the mentions of a token-BIO file with concept-id tags.

    Args:
        path: the BIO file (UTF-8; LF or CRLF).
        context_window: words or characters of sentence context kept on each side.
        context_unit: ``"words"`` or ``"chars"``.
        types_map: concept id -> semantic types (e.g. ``cui_to_tuis.json``), used for ``Mention.types``.
        stray_inside: what an I- tag continuing no mention means (module docstring).
        report: line errors raise unless ``report.lenient``; stray I- tags are counted here.
        sentence_texts: when given, filled with ``doc_id -> sentence text`` (tokens joined by
            spaces, what mention strings and contexts are cut from) for sentences with mentions.
        strays_in_log: log the count of stray I- tags as a warning; False: a ``--verbose`` detail
            only (for data whose strays are known, as the bundled quickstart slice; ``report``
            counts them either way).

    Raises:
        MissingInputError, InputFormatError: see :func:`iter_bio_sentences`.
    """
    check_context_unit(context_unit)
    if stray_inside not in ("outside", "begin", "error"):
        raise ValueError(f"stray_inside must be 'outside', 'begin' or 'error', not {stray_inside!r}")
    report = report if report is not None else SkipReport()
    before = sum(n for reason, n in report.notes.items() if reason.startswith("stray I- tag"))
    mentions: list[Mention] = []
    for sentence in iter_bio_sentences(path, report):
        found = bio_mentions(
            sentence,
            path=path,
            context_window_size=context_window,
            context_unit=context_unit,
            types_map=types_map,
            stray_inside=stray_inside,
            report=report,
        )
        if found and sentence_texts is not None:
            sentence_texts[sentence.doc_id] = sentence.text
        mentions.extend(found)
    strays = sum(n for reason, n in report.notes.items() if reason.startswith("stray I- tag")) - before
    if strays and stray_inside != "error":
        action = "read as O" if stray_inside == "outside" else "read as new mentions"
        message = f"{path}: {strays} stray I- tag(s) (continuing no mention) {action}"
        log(message, style="yellow" if strays_in_log else None, verbose=not strays_in_log)
    return mentions
