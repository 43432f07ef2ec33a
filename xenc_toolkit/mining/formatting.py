"""How a mention and a candidate concept are written as the cross-encoder's text pair.

The same functions are used by mining, training, evaluation and the Stage-3
:class:`~xenc_toolkit.linking.Linker`, and the format is saved next to the model
(``xenc_input_format.json``) so plain ``CrossEncoder(path).predict(pairs)`` users can
reproduce it exactly:

* query: ``"aspirin"``, or with context ``"... took [START] aspirin [END] daily ..."``;
* candidate: ``"ASA (Aspirin)"`` — the matched synonym, then the preferred name in
  parentheses when it differs — optionally followed by ``" [TYPE] Organic Chemical, Pharmacologic Substance"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..config import InputFormatConfig
from ..corpora.mention import window_words
from ..kb.normalize import normalize_name
from ..utils.io import atomic_write_json, read_json

INPUT_FORMAT_FILE = "xenc_input_format.json"


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


def save_input_format(fmt: InputFormatConfig, directory: str | Path) -> Path:
    return atomic_write_json(Path(directory) / INPUT_FORMAT_FILE, fmt.model_dump(mode="json"))


def load_input_format(directory: str | Path) -> InputFormatConfig | None:
    path = Path(directory) / INPUT_FORMAT_FILE
    if not path.exists():
        return None
    return InputFormatConfig.model_validate(read_json(path))
