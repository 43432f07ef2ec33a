"""Load a corpus as mentions from a :class:`~xenc_toolkit.config.CorpusConfig`.

:func:`load_corpus` picks the reader (PubTator, token BIO, JSONL; ``format: auto`` sniffs the
first non-blank line), strips ``id_prefix`` from gold ids, fills missing semantic types from
``types_file``, assigns splits (``split_files`` by PMID, ``bio_split`` contiguous blocks, or one
corpus file per split with ``files``, :mod:`.split_files`) and
honours the context window and ``lenient`` settings. What it skipped is in the
:class:`~xenc_toolkit.errors.SkipReport` it is given (or creates).

With ``expand_abbreviations`` on, mentions that are short forms defined in their document
("Duchenne muscular dystrophy (DMD) ... DMD") get the long form as their text
(:mod:`~xenc_toolkit.corpora.abbreviations`). The text searched for definitions is, per format:
PubTator, the document (title + abstract); BIO, the sentence (BIO files have no document ids, so
a sentence is the document); JSONL, the context windows (``left_context text right_context``) of
the mentions sharing a ``doc_id``, one per line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ..errors import ConfigError, InputFormatError, MissingInputError, SkipReport
from ..settings import CorpusConfig
from ..utils.lines import read_text
from ..utils.progress import log
from .abbreviations import expand_abbreviations
from .bio import read_bio
from .jsonl import read_jsonl
from .mention import Mention, strip_id_prefix
from .pubtator import read_pubtator
from .split_files import load_split_files
from .splits import assign_splits, block_split

__all__ = ["detect_format", "load_types_file", "apply_types", "context_texts", "load_corpus"]

_PUBTATOR_HEADER = re.compile(r"^[^\s|]+\|[ta]\|")
_PUBTATOR_ANNOTATION = re.compile(r"^[^\s|]+\t\d+\t\d+\t")
FORMAT_EXPECTED = (
    "a PubTator 'PMID|t|title' line, a BIO 'token<TAB>tag' line or a JSON object (or set corpus.format explicitly)"
)
TYPES_EXPECTED = 'a JSON object {"C0000005": ["T116", "T121"], ...}'


def detect_format(path: str | Path, max_bytes: int = 1 << 16) -> str:
    """``"pubtator"``, ``"bio"`` or ``"jsonl"``, from the first non-blank line of ``path``.

    Raises:
        MissingInputError: the file does not exist.
        InputFormatError: the file is empty or its first non-blank line fits no format.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(path, "corpus file")
    with path.open("rb") as handle:
        head = handle.read(max_bytes).decode("utf-8", errors="replace").lstrip("\ufeff")
    for number, line in enumerate(head.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            return "jsonl"
        if _PUBTATOR_HEADER.match(line) or _PUBTATOR_ANNOTATION.match(line):
            return "pubtator"
        if line.count("\t") == 1:
            return "bio"
        raise InputFormatError(path, number, f"cannot tell the corpus format from {line[:60]!r}", FORMAT_EXPECTED)
    raise InputFormatError(path, 1, "the corpus file is empty", FORMAT_EXPECTED)


def _line_of_key(text: str, key: str) -> int:
    """The line of ``key`` in a JSON text (1 when it is not found as written)."""
    for spelling in (json.dumps(key, ensure_ascii=False), json.dumps(key)):
        position = text.find(spelling)
        if position >= 0:
            return text.count("\n", 0, position) + 1
    return 1


def load_types_file(path: str | Path) -> dict[str, tuple[str, ...]]:
    """Read a JSON ``{concept id: [TUI, ...]}`` file (such as ``cui_to_tuis.json``).

    A single string value is read as one type.

    Raises:
        MissingInputError: the file does not exist.
        InputFormatError: invalid JSON, not an object, or a value that is not a list of strings.
    """
    text = read_text(path, what="types file")
    if not text.strip():
        raise InputFormatError(path, 1, "the types file is empty", TYPES_EXPECTED)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFormatError(
            path, exc.lineno, f"invalid JSON: {exc.msg} at column {exc.colno}", TYPES_EXPECTED
        ) from None
    except RecursionError:
        raise InputFormatError(path, 1, "JSON nested too deeply", TYPES_EXPECTED) from None
    if not isinstance(data, dict):
        raise InputFormatError(path, 1, f"a JSON {type(data).__name__} instead of an object", TYPES_EXPECTED)
    if not data:
        raise InputFormatError(path, 1, "the types file maps no concept id", TYPES_EXPECTED)
    types: dict[str, tuple[str, ...]] = {}
    for key, value in data.items():
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputFormatError(
                path,
                _line_of_key(text, key),
                f"types of {key!r} are {json.dumps(value)[:60]}",
                "a list of type strings",
            )
        types[key] = tuple(dict.fromkeys(v for v in value if v))
    return types


def apply_types(mentions: Iterable[Mention], types_map: Mapping[str, Sequence[str]]) -> tuple[int, int]:
    """Give mentions without types the types of their gold ids (union, in order).

    Returns:
        ``(filled, still_untyped)``: mentions given types, and mentions lacking types afterwards.
    """
    filled = untyped = 0
    for mention in mentions:
        if mention.types:
            continue
        found = tuple(dict.fromkeys(t for gold in mention.gold_ids for t in types_map.get(gold, ())))
        if found:
            mention.types = found
            filled += 1
        else:
            untyped += 1
    return filled, untyped


def _strip_prefix(mentions: Iterable[Mention], prefix: str) -> None:
    for mention in mentions:
        mention.gold_ids = tuple(dict.fromkeys(strip_id_prefix(g, prefix) for g in mention.gold_ids))


def context_texts(mentions: Iterable[Mention]) -> dict[str, str]:
    """Per ``doc_id``, the mentions' ``left_context text right_context`` windows, one per line.

    The text abbreviation definitions are looked for in when the documents themselves are not at
    hand (JSONL input).
    """
    lines: dict[str, dict[str, None]] = {}
    for m in mentions:
        window = " ".join(part for part in (m.left_context, m.text, m.right_context) if part)
        lines.setdefault(m.doc_id, {})[window.replace("\n", " ")] = None
    return {doc_id: "\n".join(windows) for doc_id, windows in lines.items()}


def load_corpus(cfg: CorpusConfig, report: SkipReport | None = None) -> list[Mention]:
    """Load the mentions of the corpus described by ``cfg`` (see the module docstring).

    Args:
        cfg: the corpus section of a command's configuration.
        report: where skipped lines are counted; default ``SkipReport(lenient=cfg.lenient)``.

    Raises:
        ConfigError: no path, ``split_files`` together with ``bio_split``, ``split_files`` for BIO
            input (it has no PMIDs) or bad ``bio_split`` fractions.
        MissingInputError: the corpus, a split file or the types file does not exist.
        InputFormatError: bad input (file, 1-based line, what was expected), unless lenient.
    """
    if cfg.files:
        report = report if report is not None else SkipReport(lenient=cfg.lenient)
        return load_split_files(cfg, report, load_corpus, detect_format)
    if cfg.path is None:
        raise ConfigError(
            "corpus.path is not set (--corpus-path): give a PubTator file, a token-BIO TSV or a JSONL file of "
            "mentions, or one file per split with corpus.files (--corpus-files train=a.txt,dev=b.txt)"
        )
    if cfg.split_files and cfg.bio_split:
        raise ConfigError("corpus: set split_files (PMID lists) or bio_split (block fractions), not both")
    report = report if report is not None else SkipReport(lenient=cfg.lenient)
    path = Path(cfg.path)
    fmt = detect_format(path) if cfg.format == "auto" else cfg.format
    if fmt == "bio" and cfg.split_files:
        raise ConfigError("corpus: BIO input has no document ids (PMIDs), so split_files cannot apply; use bio_split")
    types_map = load_types_file(cfg.types_file) if cfg.types_file else None

    if fmt == "pubtator":
        documents = read_pubtator(
            path,
            id_prefix=cfg.id_prefix,
            context_window=cfg.context_window,
            context_unit=cfg.context_unit,
            report=report,
        )
        if cfg.split_files:
            assign_splits(documents, cfg.split_files, report=report)
        mentions = [m for doc in documents for m in doc.mentions]
        texts = {doc.pmid: doc.text for doc in documents}
        where = f"{len(documents):,} documents"
    elif fmt == "bio":
        texts = {}
        mentions = read_bio(
            path,
            context_window=cfg.context_window,
            context_unit=cfg.context_unit,
            types_map=types_map,
            report=report,
            sentence_texts=texts,
        )
        where = f"{len({m.doc_id for m in mentions}):,} sentences with mentions"
    elif fmt == "jsonl":
        mentions = read_jsonl(path, context_window=cfg.context_window, context_unit=cfg.context_unit, report=report)
        if cfg.split_files:
            assign_splits(mentions, cfg.split_files, report=report)
        texts = None
        where = f"{len({m.doc_id for m in mentions}):,} documents"
    else:  # pragma: no cover - CorpusConfig validates the format
        raise ConfigError(f"corpus.format: unknown format {fmt!r}")

    if cfg.expand_abbreviations:
        mentions, expansion = expand_abbreviations(mentions, texts if texts is not None else context_texts(mentions))
        log(expansion.summary())
    if cfg.id_prefix and fmt != "pubtator":
        _strip_prefix(mentions, cfg.id_prefix)
    if cfg.bio_split:
        block_split(mentions, cfg.bio_split)
    if types_map is not None:
        filled, untyped = apply_types(mentions, types_map)
        if untyped:
            log(
                f"{cfg.types_file}: {untyped:,} mention(s) still have no semantic type: their gold ids are not in "
                f"the file ({len(types_map):,} ids; it gave types to {filled:,} of the {filled + untyped:,} "
                "mentions lacking them)",
                style="yellow",
            )
    log(f"read {len(mentions):,} mentions in {where} from {path} ({fmt})")
    return mentions
