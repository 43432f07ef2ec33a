"""How a mention and a candidate concept are written as the cross-encoder's text pair.

The same functions are used by mining, training, evaluation and the Stage-3
:class:`~xenc_toolkit.linking.Linker`, and the format is saved next to the model
(see :mod:`.model_dir`) so plain ``CrossEncoder(path).predict(pairs)`` users can
reproduce it exactly:

* query: ``"aspirin"``, or with context ``"... took [START] aspirin [END] daily ..."``;
* candidate: ``"ASA (Aspirin)"`` — the matched synonym, then the preferred name in
  parentheses when it differs — optionally followed by ``" [TYPE] Organic Chemical, Pharmacologic Substance"``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..corpora.mention import window_words
from ..kb.normalize import normalize_name
from ..settings import InputFormatConfig


def format_query(text: str, left: str = "", right: str = "", fmt: InputFormatConfig | None = None) -> str:
    fmt = fmt or InputFormatConfig()
    if not fmt.context:
        return text
    left = window_words(left, fmt.context_words, "left")
    right = window_words(right, fmt.context_words, "right")
    return " ".join(part for part in (left, fmt.start_marker, text, fmt.end_marker, right) if part)


def format_candidate(
    name: str, preferred: str | None = None, type_names: Sequence[str] = (), fmt: InputFormatConfig | None = None
) -> str:
    fmt = fmt or InputFormatConfig()
    text = name
    if fmt.preferred_name and preferred and normalize_name(preferred) != normalize_name(name):
        text = f"{name} ({preferred})"
    if fmt.candidate_types and type_names:
        text = f"{text} [TYPE] {', '.join(type_names)}"
    return text
