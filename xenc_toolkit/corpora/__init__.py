"""Annotated corpora: PubTator, token BIO and JSONL readers, splits and loading.

Every reader produces :class:`Mention` records (PubTator also :class:`Document` objects);
:func:`load_corpus` does it all from a :class:`~xenc_toolkit.config.CorpusConfig`.
Bad input raises :class:`~xenc_toolkit.errors.InputFormatError` naming the file and 1-based
line, or is counted in a lenient :class:`~xenc_toolkit.errors.SkipReport`.
"""

from __future__ import annotations

from .bio import BioSentence, iter_bio_sentences, read_bio, read_bio_sentences
from .jsonl import iter_jsonl, read_jsonl, write_jsonl
from .loader import apply_types, detect_format, load_corpus, load_types_file
from .mention import Document, Mention, context_window, mentions_by_split, window_chars, window_words
from .pubtator import iter_pubtator, iter_pubtator_mentions, parse_concept_ids, read_pubtator, write_pubtator
from .splits import SplitAssignment, assign_splits, block_split, read_pmid_list

__all__ = [
    "BioSentence",
    "Document",
    "Mention",
    "SplitAssignment",
    "apply_types",
    "assign_splits",
    "block_split",
    "context_window",
    "detect_format",
    "iter_bio_sentences",
    "iter_jsonl",
    "iter_pubtator",
    "iter_pubtator_mentions",
    "load_corpus",
    "load_types_file",
    "mentions_by_split",
    "parse_concept_ids",
    "read_bio",
    "read_bio_sentences",
    "read_jsonl",
    "read_pmid_list",
    "read_pubtator",
    "window_chars",
    "window_words",
    "write_jsonl",
    "write_pubtator",
]
