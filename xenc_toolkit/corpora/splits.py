"""Document-level train/dev/test splits: from PMID list files, or contiguous blocks for BIO input.

Splits are always by document (or, for BIO input without document ids, by contiguous blocks of
sentences), never a random split of mentions: mentions of one abstract share context and
concepts, and splitting them would leak the answer into training.

* :func:`assign_splits` reads one PMID list per split (MedMentions'
  ``corpus_pubtator_pmids_{trng,dev,test}.txt``: one id per line, blank lines allowed) and sets
  ``split`` on documents and their mentions. A PMID listed in two split files is an error; a
  listed PMID absent from the corpus is an ``unknown split PMID`` error naming the split file and
  line (both counted instead when lenient). Documents in no split file are kept with
  ``split=None`` and reported (logged and returned), never dropped silently.
* :func:`block_split` cuts the documents, in corpus order, into consecutive blocks of the given
  fractions (``{"train": 0.8, "dev": 0.2}``). At most one document per boundary straddles two
  splits only if documents were themselves split (BIO sentences of one abstract may end up on
  both sides of a boundary; there are no PMIDs to prevent it).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, InputFormatError, SkipReport
from ..utils.progress import log
from .mention import Document, Mention, iter_lines, truncation_hint

__all__ = ["SplitAssignment", "read_pmid_list", "assign_splits", "block_split"]

_ID = re.compile(r"^[^\s|]+$")
ID_EXPECTED = "one document id (PMID) per line; blank lines are allowed"


@dataclass
class SplitAssignment:
    """What a split assignment did.

    Attributes:
        documents / mentions: per split name, how many documents / mentions it received.
        unassigned: ids of corpus documents in no split (kept, with ``split=None``).
        unknown: ``(split, pmid)`` listed in a split file but absent from the corpus (lenient mode).
    """

    documents: dict[str, int] = field(default_factory=dict)
    mentions: dict[str, int] = field(default_factory=dict)
    unassigned: list[str] = field(default_factory=list)
    unknown: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "documents": dict(self.documents),
            "mentions": dict(self.mentions),
            "unassigned_documents": len(self.unassigned),
            "unknown_split_pmids": len(self.unknown),
        }


def read_pmid_list(path: str | Path, report: SkipReport | None = None) -> dict[str, int]:
    """Read a split file: document id -> 1-based line number, in file order.

    Raises:
        MissingInputError: the file does not exist.
        InputFormatError: a line holds more than one field (or a ``|``), or an id is listed twice
            (counted and skipped when ``report.lenient``); the file lists no id at all.
    """
    report = report if report is not None else SkipReport()
    ids: dict[str, int] = {}
    last = 0
    for line in iter_lines(path, report):
        last = line.number
        value = line.text.strip()
        if not value:
            continue
        if not _ID.match(value):
            report.handle(
                InputFormatError(
                    path, line.number, f"not a document id: {value[:60]!r}{truncation_hint(line)}", ID_EXPECTED
                ),
                "bad split file line",
            )
            continue
        if value in ids:
            report.handle(
                InputFormatError(
                    path, line.number, f"PMID {value} listed twice (first at line {ids[value]})", "each PMID once"
                ),
                "PMID listed twice in a split file",
            )
            continue
        ids[value] = line.number
    if not ids:
        what = "the split file is empty" if not last else f"no document id in the split file's {last:,} line(s)"
        raise InputFormatError(path, max(last, 1), what, ID_EXPECTED)
    return ids


def _doc_id(item: Document | Mention) -> str:
    return item.pmid if isinstance(item, Document) else item.doc_id


def _set_split(item: Document | Mention, split: str | None) -> int:
    """Set ``split`` on an item (and a document's mentions); return the number of mentions touched."""
    item.split = split
    if isinstance(item, Document):
        for mention in item.mentions:
            mention.split = split
        return len(item.mentions)
    return 1


def _group(items: Iterable[Document | Mention]) -> dict[str, list[Document | Mention]]:
    groups: dict[str, list[Document | Mention]] = {}
    for item in items:
        groups.setdefault(_doc_id(item), []).append(item)
    return groups


def assign_splits(
    items: Sequence[Document] | Sequence[Mention],
    split_files: Mapping[str, str | Path],
    *,
    report: SkipReport | None = None,
) -> SplitAssignment:
    """Set ``split`` on documents (and their mentions) or on mentions, from PMID list files.

    Args:
        items: documents (:class:`Document`) or mentions; mentions are grouped by ``doc_id``.
        split_files: split name -> PMID list file, e.g. ``{"train": ".../corpus_pubtator_pmids_trng.txt"}``.
        report: errors raise unless ``report.lenient`` (then counted; a PMID in two files keeps
            its first split).

    Returns:
        A :class:`SplitAssignment`. Items are modified in place.

    Raises:
        MissingInputError: a split file does not exist.
        InputFormatError: a bad line, a PMID in two split files, or an unknown split PMID (the
            message counts how many of that file's PMIDs are not in the corpus).
    """
    report = report if report is not None else SkipReport()
    owner: dict[str, tuple[str, Path, int]] = {}
    for split, path in split_files.items():
        path = Path(path)
        for pmid, number in read_pmid_list(path, report).items():
            if pmid in owner:
                first_split, first_path, first_line = owner[pmid]
                report.handle(
                    InputFormatError(
                        path,
                        number,
                        f"PMID {pmid} of split '{split}' is also in split '{first_split}' ({first_path}:{first_line})",
                        "each PMID in exactly one split file",
                    ),
                    "PMID in two split files",
                )
                continue
            owner[pmid] = (split, path, number)

    groups = _group(items)
    result = SplitAssignment(documents={s: 0 for s in split_files}, mentions={s: 0 for s in split_files})
    unknown = [(pmid, where) for pmid, where in owner.items() if pmid not in groups]
    per_file = Counter(path for _, (_, path, _) in unknown)
    for pmid, (split, path, number) in unknown:
        in_file = per_file[path]
        report.handle(
            InputFormatError(
                path,
                number,
                f"unknown split PMID {pmid}: listed in split '{split}' but not in the corpus "
                f"({in_file} of this file's PMIDs are not in the corpus)",
                "only PMIDs of documents present in the corpus (or use --corpus-lenient to count them)",
            ),
            "unknown split PMID",
        )
        result.unknown.append((split, pmid))

    unassigned_mentions = 0
    for doc_id, members in groups.items():
        split = owner[doc_id][0] if doc_id in owner else None
        touched = sum(_set_split(item, split) for item in members)
        if split is None:
            result.unassigned.append(doc_id)
            unassigned_mentions += touched
        else:
            result.documents[split] += 1
            result.mentions[split] += touched
    if result.unassigned:
        examples = ", ".join(result.unassigned[:5])
        log(
            f"{len(result.unassigned)} document(s) ({unassigned_mentions} mentions) are in no split file; "
            f"kept with split=None (e.g. {examples})",
            style="yellow",
        )
    return result


def block_split(items: Sequence[Document] | Sequence[Mention], fractions: Mapping[str, float]) -> SplitAssignment:
    """Assign splits by contiguous blocks of documents (BIO: sentences), in corpus order.

    ``{"train": 0.8, "dev": 0.2}`` gives the first 80% of documents (rounded) to train and the rest
    to dev. Documents are never cut: all mentions of one ``doc_id`` share a split.

    Raises:
        ConfigError: no fractions, a fraction outside (0, 1], or fractions not summing to 1.
    """
    if not fractions:
        raise ConfigError("bio_split: give at least one split fraction, e.g. {train: 0.8, dev: 0.2}")
    for name, value in fractions.items():
        if not (isinstance(value, int | float) and 0 < value <= 1):
            raise ConfigError(f"bio_split: fraction of '{name}' must be in (0, 1], got {value!r}")
    total = sum(fractions.values())
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        raise ConfigError(f"bio_split: fractions must sum to 1, got {total:g} ({dict(fractions)})")
    groups = _group(items)
    n = len(groups)
    bounds, cumulative = [], 0.0
    for value in fractions.values():
        cumulative += value
        bounds.append(round(cumulative * n))
    bounds[-1] = n
    result = SplitAssignment(documents={s: 0 for s in fractions}, mentions={s: 0 for s in fractions})
    names = list(fractions)
    block = 0
    for position, members in enumerate(groups.values()):
        while position >= bounds[block]:
            block += 1
        split = names[block]
        result.documents[split] += 1
        result.mentions[split] += sum(_set_split(item, split) for item in members)
    empty = [name for name, count in result.documents.items() if count == 0]
    if empty:
        log(f"bio_split: split(s) {', '.join(empty)} received no document ({n} documents in all)", style="yellow")
    return result
