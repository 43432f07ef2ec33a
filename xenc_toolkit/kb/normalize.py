"""Name normalisation shared by the KB, the false-negative filter and evaluation."""

from __future__ import annotations

import html
import re
import unicodedata

_APOSTROPHES = re.compile("['\u2019]")
_PUNCT = re.compile(r"[\s\-_,;:.()\[\]{}\"/\\]+")


def normalize_name(text: str) -> str:
    """Case-, accent-, punctuation- and whitespace-insensitive key for a name.

    ``"Non-Hodgkin's  Lymphoma"`` and ``"non hodgkins lymphoma"`` share a key, so
    synonyms differing only in spelling details are never treated as negatives.
    """
    if "&" in text:
        text = html.unescape(text)
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _PUNCT.sub(" ", _APOSTROPHES.sub("", text.lower())).strip()
