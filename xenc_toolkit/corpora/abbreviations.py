"""In-document abbreviation resolution (Schwartz & Hearst 2003), as scispacy's ``AbbreviationDetector``.

Many mentions are short forms defined earlier in the same document: "Duchenne muscular dystrophy
(DMD) ... DMD patients". A linker given "DMD" alone has little to go on; standard NCBI-disease
pipelines link such mentions through their long form. This module finds the definitions with the
Schwartz-Hearst algorithm and rewrites mentions whose whole text is a defined short form.

**Detection** (:func:`find_abbreviations`), following the paper and its reference implementation
(``ExtractAbbrev.java``), line by line:

1. Candidates are ``long form (short form)`` at every ``" ("`` with a closing ``)``. The long-form
   candidate is the text before the parenthesis back to the nearest ``". "`` or ``", "`` (or the
   previous closing parenthesis, or the start of the line); the short-form candidate is the
   parenthesised text up to its first ``", "`` or ``"; "`` ("(DMD; OMIM 310200)" -> "DMD").
2. When the parenthesised text has more than two words or is longer than the text before it, the
   pattern is read as ``short form (long form)``: the short form is then the single word before
   the parenthesis, and it must hold a capital letter.
3. A short form is valid when it has 2-10 characters, at least one letter and an alphanumeric
   first character (at most two words follows from step 2).
4. The long form is found by matching the short form's letters and digits right to left, each
   to the nearest matching character to the left in the long-form candidate (case-insensitively),
   the first one at the start of a word; the long form starts at the word holding that match.
5. The pair is kept unless the long form is shorter than the short form, contains it as a word
   or ends with it, or has more than ``min(|SF| + 5, 2 * |SF|)`` words (``|SF|``: letters and
   digits of the short form; words split at spaces and hyphens).

So "(p < 0.05)", "(n = 12)" and "(1998)" are never abbreviations: the first two are three words
and the word before them rarely holds a capital, the third has no letter. Within one document
the first definition of a short form wins.

**Expansion** (:func:`expand_abbreviations`): a mention whose stripped text equals a short form
defined anywhere in its document (before or after the mention: titles often use the short form
that the abstract defines) gets the long form as :attr:`Mention.text`, the text every later
stage links; the surface string stays in :attr:`Mention.original_text`. A plural short form
("APCs" where "APC" is defined, and "APCs" itself is not) is expanded the same way, to the
(singular) long form. Offsets, contexts and ids are unchanged.

For the Stage-3 :class:`~xenc_toolkit.linking.Linker`, which takes strings, call
:func:`find_abbreviations` on your document text and map the strings yourself::

    defined = find_abbreviations(document_text)
    linker.link([defined.get(s, s) for s in mention_strings])
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .mention import Mention

__all__ = [
    "AbbreviationPair",
    "ExpansionReport",
    "abbreviation_pairs",
    "best_long_form",
    "expand_abbreviations",
    "find_abbreviations",
    "is_valid_short_form",
]

MIN_SHORT_FORM = 2
MAX_SHORT_FORM = 10
_LONG_FORM_WORDS = re.compile(r"[^\s\-]+")


@dataclass(frozen=True)
class AbbreviationPair:
    """One definition: ``short`` and ``long`` forms and the character offsets of each in the text."""

    short: str
    long: str
    short_start: int
    long_start: int


def is_valid_short_form(candidate: str) -> bool:
    """2-10 characters, at least one letter, first character a letter or digit (step 3)."""
    return (
        MIN_SHORT_FORM <= len(candidate) <= MAX_SHORT_FORM
        and candidate[0].isalnum()
        and any(ch.isalpha() for ch in candidate)
    )


def best_long_form(short: str, candidate: str) -> str | None:
    """The shortest suffix of ``candidate`` whose characters spell ``short`` (step 4), else None.

    Each letter or digit of ``short``, from the last, is matched to the nearest equal character
    (case-insensitive) to the left of the previous match; the first one must start a word (no
    letter or digit before it). The result begins at the word holding that first match.
    """
    s_index = len(short) - 1
    l_index = len(candidate) - 1
    while s_index >= 0:
        char = short[s_index].lower()
        if not char.isalnum():
            s_index -= 1
            continue
        while l_index >= 0 and (
            candidate[l_index].lower() != char or (s_index == 0 and l_index > 0 and candidate[l_index - 1].isalnum())
        ):
            l_index -= 1
        if l_index < 0:
            return None
        l_index -= 1
        s_index -= 1
    start = candidate.rfind(" ", 0, l_index + 1) + 1
    return candidate[start:].strip()


def _accept(short: str, long: str) -> bool:
    """Step 5: the reference implementation's filters on a matched pair."""
    size = sum(ch.isalnum() for ch in short)
    words = len(_LONG_FORM_WORDS.findall(long))
    return not (
        len(long) < len(short) or f"{short} " in long or long.endswith(short) or words > 2 * size or words > size + 5
    )


def _pairs_in_line(line: str, offset: int) -> list[AbbreviationPair]:
    found: list[AbbreviationPair] = []
    floor = 0  # text before this index belongs to an earlier candidate
    open_at = line.find(" (")
    while open_at >= 0:
        paren = open_at + 1
        close = line.find(")", paren + 1)
        if close < 0:
            break
        clause = max(line.rfind(". ", floor, paren), line.rfind(", ", floor, paren))
        long_start = clause + 2 if clause >= 0 else floor
        long_candidate = line[long_start:paren]
        inner_start = paren + 1
        short_candidate = line[inner_start:close]
        for separator in (", ", "; "):
            cut = short_candidate.find(separator)
            if cut >= 0:
                short_candidate = short_candidate[:cut]
        pair: AbbreviationPair | None = None
        if len(short_candidate.split()) > 2 or len(short_candidate.strip()) > len(long_candidate.strip()):
            # short form (long form): the word before the parenthesis, which must hold a capital
            word_start = line.rfind(" ", floor, open_at) + 1
            short = line[word_start:open_at].strip()
            if any(ch.isupper() for ch in short) and is_valid_short_form(short):
                long = best_long_form(short, short_candidate.strip())
                if long and _accept(short, long):
                    pair = AbbreviationPair(short, long, offset + word_start, offset + inner_start)
        else:
            short = short_candidate.strip()
            if is_valid_short_form(short):
                long = best_long_form(short, long_candidate.strip())
                if long and _accept(short, long):
                    long_at = line.rfind(long, long_start, paren)
                    short_at = inner_start + short_candidate.find(short)
                    pair = AbbreviationPair(short, long, offset + short_at, offset + long_at)
        if pair is not None:
            found.append(pair)
        floor = close + 1
        open_at = line.find(" (", floor)
    return found


def abbreviation_pairs(text: str) -> list[AbbreviationPair]:
    """Every Schwartz-Hearst definition in ``text``, in text order (repeats included).

    Lines (split at ``\\n``) are read separately: a definition never spans a line break.
    """
    pairs: list[AbbreviationPair] = []
    offset = 0
    for line in text.split("\n"):
        if "(" in line:
            pairs.extend(_pairs_in_line(line, offset))
        offset += len(line) + 1
    return pairs


def find_abbreviations(text: str) -> dict[str, str]:
    """``{short form: long form}`` defined in ``text``; the first definition of a short form wins."""
    defined: dict[str, str] = {}
    for pair in abbreviation_pairs(text):
        defined.setdefault(pair.short, pair.long)
    return defined


@dataclass
class ExpansionReport:
    """What :func:`expand_abbreviations` did.

    Attributes:
        documents: documents whose text was searched.
        documents_with_abbreviations: those defining at least one short form.
        abbreviations: distinct (document, short form) definitions found.
        mentions: mentions seen.
        mentions_expanded: mentions whose text became a long form (plurals included).
        plural_expanded: of those, plural short forms ("APCs" for "APC").
        mentions_without_document: mentions whose ``doc_id`` had no text (left unchanged).
        examples: a few ``"doc_id: short -> long"`` expansions.
    """

    documents: int = 0
    documents_with_abbreviations: int = 0
    abbreviations: int = 0
    mentions: int = 0
    mentions_expanded: int = 0
    plural_expanded: int = 0
    mentions_without_document: int = 0
    examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def summary(self) -> str:
        return (
            f"abbreviations: {self.mentions_expanded:,} of {self.mentions:,} mentions expanded to their long form "
            f"({self.abbreviations:,} short forms defined in {self.documents_with_abbreviations:,} of "
            f"{self.documents:,} documents)"
        )


MAX_EXAMPLES = 10


def _lookup(text: str, defined: Mapping[str, str]) -> tuple[str | None, bool]:
    """The long form for a mention string, and whether it was found through a plural 's'."""
    if text in defined:
        return defined[text], False
    if len(text) > MIN_SHORT_FORM and text.endswith("s") and not text[-2].islower():
        singular = text[:-1]
        if singular in defined:
            return defined[singular], True
    return None, False


def expand_abbreviations(
    mentions: Iterable[Mention], documents_text_by_doc_id: Mapping[str, str]
) -> tuple[list[Mention], ExpansionReport]:
    """Mentions whose text is a short form defined in their document, rewritten to the long form.

    Args:
        mentions: mentions of any reader; ``doc_id`` selects the document text.
        documents_text_by_doc_id: the text definitions are looked for in, per document
            (PubTator: title + " " + abstract).

    Returns:
        ``(mentions, report)``: a new list in the same order. Expanded mentions are copies with
        ``text`` = the long form and ``original_text`` = the surface string; the others are the
        same objects. A mention already expanded (``original_text`` set) is left as it is.

    A plural ("APCs") is expanded only when its short form ends with an upper-case letter or
    digit ("APC") and the plural is not itself defined.
    """
    report = ExpansionReport()
    cache: dict[str, dict[str, str]] = {}
    out: list[Mention] = []
    for mention in mentions:
        report.mentions += 1
        text = documents_text_by_doc_id.get(mention.doc_id)
        if text is None:
            report.mentions_without_document += 1
            out.append(mention)
            continue
        defined = cache.get(mention.doc_id)
        if defined is None:
            defined = cache[mention.doc_id] = find_abbreviations(text)
        long, plural = _lookup(mention.text.strip(), defined) if mention.original_text is None else (None, False)
        if long is None:
            out.append(mention)
            continue
        out.append(dataclasses.replace(mention, text=long, original_text=mention.text))
        report.mentions_expanded += 1
        report.plural_expanded += plural
        if len(report.examples) < MAX_EXAMPLES:
            report.examples.append(f"{mention.doc_id}: {mention.text.strip()} -> {long}")
    for doc_id, text in documents_text_by_doc_id.items():
        defined = cache.get(doc_id)
        if defined is None:
            defined = find_abbreviations(text)
        report.documents += 1
        report.documents_with_abbreviations += bool(defined)
        report.abbreviations += len(defined)
    return out, report
