"""The :class:`Mention` and :class:`Document` records every corpus reader produces.

Also the helpers the readers share: context windows (in words or characters), UTF-8 line
reading with 1-based line numbers, counting deliberate skips in a
:class:`~xenc_toolkit.errors.SkipReport`, and id-prefix stripping.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SkipReport
from ..utils.lines import Line
from ..utils.lines import iter_lines as _iter_lines


@dataclass
class Mention:
    """One annotated entity mention.

    Attributes:
        mention_id: unique within a corpus (``"{doc_id}:{start}-{end}"`` or ``"{doc_id}:{n}"``).
        doc_id: PMID or another document id (for BIO input: the sentence block id).
        text: the mention string as it appears in the text.
        gold_ids: gold concept ids; several for composite mentions; empty when unlinkable.
        types: semantic types (TUIs) or entity classes from the corpus (may be empty).
        left_context / right_context: text before/after the mention (window set by the reader).
        start / end: character offsets in the document text (None for token-level BIO input).
        split: ``"train"``, ``"dev"``, ``"test"`` or None.
        source: file and line the mention came from (for messages).
        extra: reader-specific fields (BIO token span, BC5CDR composite parts, unknown JSONL keys).
        original_text: the surface string when :attr:`text` was rewritten for linking (an in-document
            abbreviation resolved to its long form, :mod:`~xenc_toolkit.corpora.abbreviations`);
            None when ``text`` is the surface string. ``start``/``end`` index the surface string.
    """

    mention_id: str
    doc_id: str
    text: str
    gold_ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    left_context: str = ""
    right_context: str = ""
    start: int | None = None
    end: int | None = None
    split: str | None = None
    source: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    original_text: str | None = None

    @property
    def surface_text(self) -> str:
        """The string as it appears in the document (``original_text`` when set, else ``text``)."""
        return self.text if self.original_text is None else self.original_text

    @property
    def is_linkable(self) -> bool:
        return bool(self.gold_ids)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["gold_ids"] = list(self.gold_ids)
        data["types"] = list(self.types)
        if self.original_text is None:
            del data["original_text"]  # files written before the field existed stay the same
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Mention:
        data = dict(data)
        data["gold_ids"] = tuple(data.get("gold_ids") or ())
        data["types"] = tuple(data.get("types") or ())
        data.setdefault("extra", {})
        return cls(**data)


def mentions_by_split(mentions: Iterable[Mention]) -> dict[str | None, list[Mention]]:
    out: dict[str | None, list[Mention]] = {}
    for mention in mentions:
        out.setdefault(mention.split, []).append(mention)
    return out


def window_words(text: str, n_words: int, side: str) -> str:
    """The last (side='left') or first (side='right') ``n_words`` words of ``text``."""
    if n_words <= 0:
        return ""
    words = text.split()
    chosen: Sequence[str] = words[-n_words:] if side == "left" else words[:n_words]
    return " ".join(chosen)


def window_chars(text: str, n_chars: int, side: str) -> str:
    """About ``n_chars`` characters of ``text`` next to the mention, cut at a word boundary."""
    if n_chars <= 0:
        return ""
    if side == "left":
        piece = text[-n_chars:]
        if len(text) > n_chars and " " in piece:
            piece = piece[piece.index(" ") + 1 :]
        return piece.strip()
    piece = text[:n_chars]
    if len(text) > n_chars and " " in piece:
        piece = piece[: piece.rindex(" ")]
    return piece.strip()


def context_window(text: str, start: int, end: int, window: int, unit: str = "words") -> tuple[str, str]:
    """Left and right context of ``text[start:end]``: ``window`` words or characters on each side.

    Raises:
        ValueError: ``unit`` is not ``"words"`` or ``"chars"``.
    """
    check_context_unit(unit)
    cut = window_words if unit == "words" else window_chars
    return cut(text[:start], window, "left"), cut(text[end:], window, "right")


def check_context_unit(unit: str) -> None:
    if unit not in CONTEXT_UNITS:
        raise ValueError(f"context_unit must be one of {', '.join(CONTEXT_UNITS)}, not {unit!r}")


CONTEXT_UNITS = ("words", "chars")


# --------------------------------------------------------------------------- documents
@dataclass
class Document:
    """A PubTator document: title, abstract and the mentions annotated in ``text``.

    Attributes:
        pmid: the document id (a PubMed id in PubTator files).
        title / abstract: as on the ``PMID|t|`` and ``PMID|a|`` lines.
        mentions: the annotations, in file order (offsets index :attr:`text`).
        relations: relation lines (``PMID<TAB>CID<TAB>D1<TAB>D2`` in BC5CDR) as tuples of their fields.
        split: ``"train"``, ``"dev"``, ... once assigned by :func:`~xenc_toolkit.corpora.splits.assign_splits`.
        source: ``"{path}:{line}"`` of the title line.
    """

    pmid: str
    title: str
    abstract: str = ""
    mentions: list[Mention] = field(default_factory=list)
    relations: list[tuple[str, ...]] = field(default_factory=list)
    split: str | None = None
    source: str | None = None

    @property
    def text(self) -> str:
        """``title + " " + abstract``: the string PubTator offsets refer to."""
        return f"{self.title} {self.abstract}"

    @property
    def doc_id(self) -> str:
        return self.pmid


# --------------------------------------------------------------------------- shared reading helpers
def iter_lines(path: str | Path, report: SkipReport | None = None) -> Iterator[Line]:
    """The lines of a corpus file: :func:`xenc_toolkit.utils.lines.iter_lines` (strict UTF-8, BOM dropped)."""
    return _iter_lines(path, report, what="corpus file")


def truncation_hint(line: Line) -> str:
    """`` (last line has no newline: truncated file?)`` for an unterminated last line, else ``""``."""
    return " (last line has no final newline: is the file truncated?)" if line.unterminated else ""


def record_skip(report: SkipReport | None, reason: str, example: str) -> None:
    """Count a deliberate, valid-input skip (a duplicate, a relation line) in ``report`` without raising.

    Unlike :meth:`SkipReport.handle` this never raises: the input is well-formed, the reader
    just does not turn it into a mention, and says so here.
    """
    if report is not None:
        report.note(reason, example)


def strip_id_prefix(concept_id: str, prefixes: str | Sequence[str] | None) -> str:
    """``concept_id`` without the first of ``prefixes`` it starts with (``"MESH:D001"`` -> ``"D001"``)."""
    if not prefixes:
        return concept_id
    if isinstance(prefixes, str):
        prefixes = (prefixes,)
    for prefix in prefixes:
        if prefix and concept_id.startswith(prefix):
            return concept_id[len(prefix) :]
    return concept_id
