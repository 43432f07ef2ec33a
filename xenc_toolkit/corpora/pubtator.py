"""PubTator reader and writer (MedMentions, NCBI-disease, BC5CDR).

A PubTator file holds documents separated by blank lines::

    25763772|t|DCTN4 as a modifier of chronic Pseudomonas aeruginosa infection in cystic fibrosis
    25763772|a|Pseudomonas aeruginosa (Pa) infection in cystic fibrosis (CF) patients is ...
    25763772<TAB>0<TAB>5<TAB>DCTN4<TAB>T116,T123<TAB>C4308010
    25763772<TAB>23<TAB>63<TAB>chronic Pseudomonas aeruginosa infection<TAB>T047<TAB>UMLS:C0854135

Annotation lines have 6 columns: PMID, start, end, mention, type(s), concept id(s). Offsets
index ``title + " " + abstract``. The type column holds comma-separated TUIs (MedMentions) or an
entity class (``SpecificDisease``, ``Chemical``). The id column holds one id, several joined by
``|`` or ``+`` (composite mentions, NCBI-disease / BC5CDR) or ``-1`` (unlinkable, BC5CDR: the
mention is kept with no gold id). A 7th column (BC5CDR composite mentions: the parts' names) is
kept in ``Mention.extra["composite_parts"]``. Relation lines (``PMID<TAB>CID<TAB>D1<TAB>D2``) are
kept on :attr:`Document.relations` and counted, never turned into mentions.

Every annotation is verified: ``text[start:end]`` must equal the mention column (surrounding
whitespace in that column is ignored: NCBI-disease train has one such line). Decisions about
real-data quirks, all reported rather than silent:

* a PMID whose whole document (title, abstract, annotations) repeats an earlier one verbatim is
  read once; the copy is counted in the report as ``duplicate document`` (PMID 8528200 in
  NCBI-disease train). A repeated PMID with different content is an error.
* an annotation line repeating an earlier one of the same document (same span, ids and types) is
  dropped and counted as ``duplicate annotation`` (MedMentions PMID 26316050, 783-790). With
  ``duplicate_annotations="keep"`` it is kept under the id ``"{pmid}:{start}-{end}#2"``. Two
  annotations of one span with *different* ids are both kept (the second gets the ``#2`` id).
* surrounding whitespace in the id column is ignored (``" D008661"`` in NCBI-disease).
* MedMentions' ``UnknownType`` placeholder in the type column means no type: ``types == ()``
  (so a ``types_file`` can fill it in).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import InputFormatError, SkipReport
from ..utils.io import atomic_write_text
from ..utils.progress import log
from .mention import (
    Document,
    Line,
    Mention,
    check_context_unit,
    context_window,
    iter_lines,
    record_skip,
    strip_id_prefix,
    truncation_hint,
)

__all__ = ["iter_pubtator", "read_pubtator", "iter_pubtator_mentions", "write_pubtator", "parse_concept_ids"]

_HEADER = re.compile(r"^([^\s|]+)\|([ta])\|(.*)$", re.DOTALL)
_OFFSET = re.compile(r"^[0-9]+$")
_ID_SEPARATORS = re.compile(r"[|+]")
NO_TYPE = frozenset({"", "UnknownType"})  # MedMentions writes UnknownType for CUIs without a semantic type
ANNOTATION_EXPECTED = (
    "6 tab-separated columns: PMID, start, end, mention, type(s), concept id(s) (a 7th with composite parts)"
)
ID_EXPECTED = "a concept id, several joined by '|' or '+', or -1 for an unlinkable mention"


def parse_concept_ids(
    value: str, path: str | Path, line: int, prefixes: str | Sequence[str] | None = None
) -> tuple[str, ...]:
    """Parse an id column: ``"D001|D002"`` / ``"D001+D002"`` -> two ids, ``"-1"`` -> no id.

    Surrounding whitespace is ignored, ``prefixes`` (e.g. ``"MESH:"``) are stripped from each id,
    repeated ids are kept once.

    Raises:
        InputFormatError: the column is empty, a part of a composite id is empty or holds
            whitespace, or ``-1`` is mixed with ids.
    """
    value = value.strip()
    if not value:
        raise InputFormatError(path, line, "empty concept id column", ID_EXPECTED)
    if value == "-1":
        return ()
    ids: dict[str, None] = {}
    for part in _ID_SEPARATORS.split(value):
        part = part.strip()
        if not part:
            raise InputFormatError(path, line, f"empty part in concept id {value!r}", ID_EXPECTED)
        if part == "-1":
            raise InputFormatError(path, line, f"-1 (unlinkable) mixed with concept ids in {value!r}", ID_EXPECTED)
        if any(ch.isspace() for ch in part):
            raise InputFormatError(path, line, f"whitespace inside concept id {part!r}", ID_EXPECTED)
        part = strip_id_prefix(part, prefixes)
        if not part:
            raise InputFormatError(path, line, f"concept id {value!r} is only a prefix", ID_EXPECTED)
        ids[part] = None
    return tuple(ids)


@dataclass
class _OpenDocument:
    """A document being read: header lines seen so far and its annotations."""

    pmid: str
    title: str
    title_line: int
    abstract: str | None = None
    mentions: list[Mention] = field(default_factory=list)
    relations: list[tuple[str, ...]] = field(default_factory=list)
    fingerprint: list[tuple[str, ...]] = field(default_factory=list)
    spans: dict[tuple[int, int], list[Mention]] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return f"{self.title} {self.abstract or ''}"


class _LineError(InputFormatError):
    """An :class:`InputFormatError` that also carries the lenient-report reason."""

    def __init__(self, path: str, line: Line, message: str, expected: str | None, reason: str):
        super().__init__(path, line.number, message + truncation_hint(line), expected)
        self.reason = reason


class _PubTatorParser:
    """State machine over the lines of one file; see :func:`iter_pubtator`."""

    def __init__(self, path, id_prefix, context_window_size, context_unit, duplicate_annotations, report):
        self.path = str(path)
        self.id_prefix = id_prefix
        self.window = context_window_size
        self.unit = context_unit
        self.duplicate_annotations = duplicate_annotations
        self.report = report
        self.current: _OpenDocument | None = None
        self.rejected_pmid: str | None = None
        self.seen: dict[str, tuple[int, int]] = {}  # pmid -> (title line, content hash)

    # ------------------------------------------------------------------ helpers
    def _error(self, line: Line, message: str, expected: str, reason: str) -> None:
        self.report.handle(InputFormatError(self.path, line.number, message + truncation_hint(line), expected), reason)

    def _close(self) -> Document | None:
        """Finish the open document; return it unless it repeats an earlier one."""
        doc, self.current = self.current, None
        if doc is None:
            return None
        digest = hash((doc.title, doc.abstract, tuple(doc.fingerprint)))
        if doc.pmid in self.seen:
            first_line, first_digest = self.seen[doc.pmid]
            if first_digest == digest:
                message = (
                    f"{self.path}:{doc.title_line}: PMID {doc.pmid} repeats the document at line {first_line} "
                    f"verbatim ({len(doc.mentions)} annotations); read once"
                )
                record_skip(self.report, "duplicate document (identical copy read once)", message)
                log(message, style="yellow")
            else:
                self.report.handle(
                    InputFormatError(
                        self.path,
                        doc.title_line,
                        f"PMID {doc.pmid} appears again with a different title, abstract or annotations "
                        f"(first at line {first_line})",
                        "each PMID once per file",
                    ),
                    "conflicting duplicate PMID",
                )
            return None
        self.seen[doc.pmid] = (doc.title_line, digest)
        return Document(
            pmid=doc.pmid,
            title=doc.title,
            abstract=doc.abstract or "",
            mentions=doc.mentions,
            relations=doc.relations,
            source=f"{self.path}:{doc.title_line}",
        )

    # ------------------------------------------------------------------ line kinds
    def feed(self, line: Line) -> Document | None:
        """Consume one line; return a document when the line completes one."""
        text = line.text
        if not text.strip():
            return self._close()
        header = _HEADER.match(text)
        if header:
            pmid, kind, body = header.groups()
            if kind == "t":
                finished = self._close()
                self.current = _OpenDocument(pmid=pmid, title=body, title_line=line.number)
                self.rejected_pmid = None
                return finished
            self._abstract(line, pmid, body)
            return None
        if "\t" in text:
            self._tab_line(line, text.split("\t"))
            return None
        self._error(
            line,
            f"unrecognised line {text[:60]!r}",
            "'PMID|t|title', 'PMID|a|abstract', a tab-separated annotation or a blank line",
            "unrecognised line",
        )
        return None

    def _abstract(self, line: Line, pmid: str, body: str) -> None:
        doc = self.current
        if doc is None or doc.pmid != pmid:
            where = f"inside document {doc.pmid} (title at line {doc.title_line})" if doc else "before its title line"
            self._error(
                line,
                f"abstract line of PMID {pmid} {where}",
                f"'{pmid}|t|title' just before",
                "abstract line out of place",
            )
            self.rejected_pmid = pmid
            return
        if doc.abstract is not None:
            self._error(
                line,
                f"second abstract line for PMID {pmid}",
                "one 'PMID|a|' line per document",
                "abstract line out of place",
            )
            return
        doc.abstract = body

    def _tab_line(self, line: Line, fields: list[str]) -> None:
        pmid = fields[0].strip()
        doc = self.current
        if doc is None or doc.pmid != pmid or doc.abstract is None:
            if pmid and pmid == self.rejected_pmid:
                self._error(
                    line,
                    f"line of PMID {pmid}, whose title/abstract line was rejected",
                    "a valid document header",
                    "line of a rejected document",
                )
            elif doc is None:
                self._error(
                    line,
                    f"annotation line of PMID {pmid} before its title/abstract lines",
                    "'PMID|t|' and 'PMID|a|' lines first",
                    "annotation before its title/abstract",
                )
            elif doc.pmid != pmid:
                self._error(
                    line,
                    f"annotation line of PMID {pmid} inside document {doc.pmid} (title at line {doc.title_line})",
                    "annotations right after their own document's title and abstract lines",
                    "annotation of another PMID",
                )
            else:
                self._error(
                    line,
                    f"annotation line of PMID {pmid} before its abstract line",
                    f"'{pmid}|a|abstract' first",
                    "annotation before its title/abstract",
                )
            return
        if len(fields) == 4 and not _OFFSET.match(fields[1].strip()):
            doc.relations.append(tuple(f.strip() for f in fields[1:]))
            doc.fingerprint.append(tuple(fields))
            record_skip(
                self.report, "relation line (kept in Document.relations, not a mention)", f"{self.path}:{line.number}"
            )
            return
        if len(fields) not in (6, 7):
            self._error(
                line,
                f"{len(fields)} tab-separated columns in an annotation line",
                ANNOTATION_EXPECTED,
                "wrong column count",
            )
            return
        try:
            mention = self._mention(line, doc, fields)
        except _LineError as error:
            self.report.handle(error, error.reason)
            return
        doc.fingerprint.append(tuple(fields))
        self._add(line, doc, mention)

    def _mention(self, line: Line, doc: _OpenDocument, fields: list[str]) -> Mention:
        pmid, start_text, end_text, surface, type_text, id_text = fields[:6]
        for name, value in (("start", start_text), ("end", end_text)):
            if not _OFFSET.match(value.strip()):
                raise _LineError(
                    self.path,
                    line,
                    f"{name} offset {value!r} is not an integer",
                    "character offsets as non-negative integers",
                    "non-integer offset",
                )
        start, end = int(start_text), int(end_text)
        text = doc.text
        if start >= end:
            raise _LineError(
                self.path, line, f"empty or reversed span {start}-{end}", "start < end", "offsets outside the text"
            )
        if end > len(text):
            raise _LineError(
                self.path,
                line,
                f"offsets {start}-{end} outside the text of PMID {pmid} ({len(text)} characters)",
                "end <= len(title + ' ' + abstract)",
                "offsets outside the text",
            )
        found = text[start:end]
        if found != surface and found != surface.strip():
            raise _LineError(
                self.path,
                line,
                f"offsets {start}-{end} of PMID {pmid} give {found!r} but the mention column says {surface!r}",
                "text[start:end] == mention, with offsets into title + ' ' + abstract",
                "offsets do not match the text",
            )
        try:
            gold_ids = parse_concept_ids(id_text, self.path, line.number, self.id_prefix)
        except InputFormatError as error:
            raise _LineError(self.path, line, error.message, error.expected, "bad concept id column") from None
        types = tuple(dict.fromkeys(t.strip() for t in type_text.split(",") if t.strip() not in NO_TYPE))
        left, right = context_window(text, start, end, self.window, self.unit)
        extra = {"composite_parts": fields[6].split("|")} if len(fields) == 7 and fields[6].strip() else {}
        return Mention(
            mention_id=f"{pmid}:{start}-{end}",
            doc_id=pmid,
            text=found,
            gold_ids=gold_ids,
            types=types,
            left_context=left,
            right_context=right,
            start=start,
            end=end,
            source=f"{self.path}:{line.number}",
            extra=extra,
        )

    def _add(self, line: Line, doc: _OpenDocument, mention: Mention) -> None:
        same_span = doc.spans.setdefault((mention.start, mention.end), [])
        if same_span:
            identical = any(m.gold_ids == mention.gold_ids and m.types == mention.types for m in same_span)
            if identical and self.duplicate_annotations == "drop":
                record_skip(
                    self.report,
                    "duplicate annotation (identical line dropped)",
                    f"{self.path}:{line.number}: repeats {same_span[0].source} ({mention.mention_id})",
                )
                return
            mention.mention_id = f"{mention.mention_id}#{len(same_span) + 1}"
        same_span.append(mention)
        doc.mentions.append(mention)


def iter_pubtator(
    path: str | Path,
    *,
    id_prefix: str | Sequence[str] | None = None,
    context_window: int = 16,
    context_unit: str = "words",
    duplicate_annotations: Literal["drop", "keep"] = "drop",
    report: SkipReport | None = None,
) -> Iterator[Document]:
    """Stream the documents of a PubTator file (see the module docstring for the format).

    Args:
        path: the PubTator file (UTF-8, LF or CRLF).
        id_prefix: prefix(es) stripped from every concept id, e.g. ``"MESH:"`` or ``"UMLS:"``.
        context_window: words or characters of context kept on each side of a mention.
        context_unit: ``"words"`` or ``"chars"``.
        duplicate_annotations: ``"drop"`` identical repeated annotation lines (counted) or ``"keep"`` them.
        report: errors are raised unless ``report.lenient``, in which case they are counted and the
            line (or, for a header error, the document) is skipped. Deliberate skips (duplicates,
            relation lines) are counted here too.

    Raises:
        MissingInputError: the file does not exist.
        InputFormatError: a line is malformed (file, 1-based line and what was expected), or the
            file holds no document at all.
    """
    check_context_unit(context_unit)
    if duplicate_annotations not in ("drop", "keep"):
        raise ValueError(f"duplicate_annotations must be 'drop' or 'keep', not {duplicate_annotations!r}")
    report = report if report is not None else SkipReport()
    parser = _PubTatorParser(path, id_prefix, context_window, context_unit, duplicate_annotations, report)
    last = 0
    for line in iter_lines(path, report):
        last = line.number
        finished = parser.feed(line)
        if finished is not None:
            yield finished
    finished = parser._close()
    if finished is not None:
        yield finished
    if not parser.seen:
        raise InputFormatError(
            path,
            max(last, 1),
            "no PubTator document in the file" + (" (it is empty)" if last == 0 else ""),
            "'PMID|t|title' and 'PMID|a|abstract' lines followed by annotations",
        )


def read_pubtator(
    path: str | Path,
    *,
    id_prefix: str | Sequence[str] | None = None,
    context_window: int = 16,
    context_unit: str = "words",
    duplicate_annotations: Literal["drop", "keep"] = "drop",
    report: SkipReport | None = None,
) -> list[Document]:
    """Read every document of a PubTator file; see :func:`iter_pubtator` for the arguments."""
    return list(
        iter_pubtator(
            path,
            id_prefix=id_prefix,
            context_window=context_window,
            context_unit=context_unit,
            duplicate_annotations=duplicate_annotations,
            report=report,
        )
    )


def iter_pubtator_mentions(path: str | Path, **kwargs) -> Iterator[Mention]:
    """Stream the mentions of a PubTator file, document by document (arguments of :func:`iter_pubtator`)."""
    for document in iter_pubtator(path, **kwargs):
        yield from document.mentions


def write_pubtator(documents: Sequence[Document], path: str | Path) -> Path:
    """Write documents as PubTator (atomically): the inverse of :func:`read_pubtator`.

    Unlinkable mentions are written with ``-1``, composite ids joined by ``|``, types by ``,``.

    Raises:
        ValueError: a title/abstract holds a line break, or a mention has no offsets.
    """
    out: list[str] = []
    for doc in documents:
        for part in (doc.title, doc.abstract):
            if "\n" in part or "\r" in part:
                raise ValueError(f"PMID {doc.pmid}: title and abstract must be single lines")
        out.append(f"{doc.pmid}|t|{doc.title}")
        out.append(f"{doc.pmid}|a|{doc.abstract}")
        for m in doc.mentions:
            if m.start is None or m.end is None:
                raise ValueError(f"mention {m.mention_id} has no character offsets")
            ids = "|".join(m.gold_ids) or "-1"
            columns = [doc.pmid, str(m.start), str(m.end), m.surface_text, ",".join(m.types), ids]
            if m.extra.get("composite_parts"):
                columns.append("|".join(m.extra["composite_parts"]))
            out.append("\t".join(columns))
        for relation in doc.relations:
            out.append("\t".join((doc.pmid, *relation)))
        out.append("")
    return atomic_write_text(path, "\n".join(out) + ("\n" if out else ""))
