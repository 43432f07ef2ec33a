"""A readable preferred name for a concept known only by its surface forms (a KB built from mentions).

The most frequent surface form of a concept is often its abbreviation ("mi" for myocardial
infarction, "adhf"), which makes a poor display name. :func:`readable_name` picks the most
frequent form that is not an abbreviation of another of the concept's forms, with the
Schwartz & Hearst (2003) test :mod:`~xenc_toolkit.corpora.abbreviations` applies in documents:
a one-word form is an abbreviation when its letters spell a longer, multi-word form of the same
concept ("mi" -> "myocardial infarction") and it is not one of that form's words ("pain" is not
an abbreviation of "pain in the neck"). Ties go to the longer form, then alphabetical order, so
the choice is deterministic. When every form is an abbreviation, the most frequent one stays.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..corpora.abbreviations import best_long_form, is_valid_short_form


def is_abbreviation_of(short: str, long: str) -> bool:
    """``short`` (one word) abbreviates all of ``long`` (several words): "mi" -> "myocardial infarction"."""
    short, long = short.strip(), long.strip()
    if not short or any(ch.isspace() for ch in short) or len(long.split()) < 2 or len(long) <= len(short):
        return False
    if short.lower() in (word.lower() for word in long.replace("-", " ").split()):
        return False
    return is_valid_short_form(short) and best_long_form(short, long) == long


def readable_name(forms: Mapping[str, int]) -> str:
    """The display name among ``forms`` (surface form -> mentions): see the module docstring."""
    if not forms:
        raise ValueError("a concept needs at least one name")
    ordered = sorted(forms, key=lambda form: (-forms[form], -len(form), form))
    for form in ordered:
        if not any(is_abbreviation_of(form, other) for other in ordered if other != form):
            return form
    return ordered[0]
