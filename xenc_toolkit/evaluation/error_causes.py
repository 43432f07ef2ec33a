"""Why a mention was linked wrong: each error of a ranking put in one cause, and the table of causes.

``xenc evaluate`` writes the table (``error_causes`` in ``evaluation_results.json``, a section of the
report) for the reported ranking and for the reranker alone, and counts the mentions that the reranker
gets wrong while retrieval's first candidate was right (and the reverse). The causes are decided from
the candidate list alone, in this order (the first that applies):

``gold_not_in_kb``          the gold concept is not in the KB (a NIL mention, or a KB gap)
``not_in_candidates``       the gold concept is in the KB but retrieval did not propose it
``composite``               the mention has several gold ids ("breast and ovarian cancer")
``abbreviation``            the mention looks like a short form ("DMD", "A-T", "HNPCC")
``shared_name``             the picked and a gold candidate both carry the mention string as a name:
                            only the context (or a prior) can tell them apart
``other_concept_exact``     the picked candidate's name is the mention string, the gold's is not:
                            the KB gives the string to another concept (often an annotation choice)
``near_duplicate_names``    the picked and the gold candidate's names are the same words up to order,
                            plural and punctuation, or one word more, or nearly the same characters
``synonym_missing``         no gold candidate name shares a word with the mention: the link needs a
                            synonym the KB does not spell out
``other``                   none of these

Causes are heuristics on strings, written to explain errors to a person, not to grade them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ..kb.normalize import normalize_name

__all__ = ["CAUSES", "error_cause", "error_causes"]

CAUSES = (
    "gold_not_in_kb",
    "not_in_candidates",
    "composite",
    "abbreviation",
    "shared_name",
    "other_concept_exact",
    "near_duplicate_names",
    "synonym_missing",
    "other",
)

_STOP = frozenset(["a", "an", "and", "of", "the", "in", "on", "or", "to", "with", "by", "for", "from", "as", "at", "s"])
_ABBREVIATION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-/.]{0,7}$")


def _looks_abbreviated(mention: str) -> bool:
    """One short token with at least two capitals or a digit next to capitals: "DMD", "A-T", "HbS", "CD4"."""
    text = mention.strip()
    if " " in text or not _ABBREVIATION.match(text):
        return False
    upper = sum(ch.isupper() for ch in text)
    return upper >= 2 or (upper >= 1 and any(ch.isdigit() for ch in text))


def _words(name: str) -> list[str]:
    out = []
    for word in normalize_name(name).split():
        if word in _STOP:
            continue
        if len(word) > 4 and word.endswith("ies"):
            word = word[:-3] + "y"
        elif len(word) > 3 and word.endswith("s"):
            word = word[:-1]
        out.append(word)
    return out


def _trigrams(name: str) -> set[str]:
    text = f"  {normalize_name(name)} "
    return {text[i : i + 3] for i in range(len(text) - 2)}


def _near_duplicates(a: str, b: str, threshold: float = 0.8) -> bool:
    wa, wb = set(_words(a)), set(_words(b))
    if wa and wb and (wa == wb or (len(wa ^ wb) == 1 and (wa <= wb or wb <= wa))):
        return True  # the same words, or one more ("Breast Neoplasms" / "Breast Neoplasms, Male")
    ta, tb = _trigrams(a), _trigrams(b)
    return bool(ta and tb) and len(ta & tb) / len(ta | tb) >= threshold


def error_cause(
    mention: str,
    gold_ids: Sequence[str],
    gold_in_kb: bool,
    candidate_names: Sequence[str],
    labels: Sequence[int],
    picked: int,
) -> str:
    """The cause (one of :data:`CAUSES`) of linking ``mention`` to candidate ``picked`` (an index into the
    list) when that candidate is wrong; ``labels`` mark the gold candidates."""
    if not gold_in_kb:
        return "gold_not_in_kb"
    gold = [i for i, y in enumerate(labels) if y]
    if not gold:
        return "not_in_candidates"
    if len(set(gold_ids)) > 1:
        return "composite"
    if _looks_abbreviated(mention):
        return "abbreviation"
    key = normalize_name(mention)
    picked_exact = 0 <= picked < len(candidate_names) and normalize_name(candidate_names[picked]) == key
    gold_exact = any(normalize_name(candidate_names[i]) == key for i in gold)
    if picked_exact and gold_exact:
        return "shared_name"
    if picked_exact:
        return "other_concept_exact"
    if 0 <= picked < len(candidate_names) and any(
        _near_duplicates(candidate_names[picked], candidate_names[i]) for i in gold
    ):
        return "near_duplicate_names"
    mention_words = set(_words(mention))
    if not any(mention_words & set(_words(candidate_names[i])) for i in gold):
        return "synonym_missing"
    return "other"


def _picks(score_lists: Sequence[np.ndarray]) -> list[int]:
    return [int(np.argmax(s)) if len(s) else -1 for s in score_lists]


def error_causes(
    mentions: Sequence[str],
    gold_ids: Sequence[Sequence[str]],
    gold_in_kb: Sequence[bool],
    candidate_names: Sequence[Sequence[str]],
    labels: Sequence[Sequence[int]],
    rankings: dict[str, Sequence[np.ndarray]],
    retrieval_ranks: np.ndarray,
    examples: int = 5,
) -> dict:
    """The table of causes for each ranking in ``rankings`` (name -> per-mention scores, higher first;
    the pick is the argmax): per cause the number of wrong mentions, their share of all mentions and of
    the errors, and up to ``examples`` examples (mention, picked name, a gold name). Per ranking also
    ``wrong_where_retrieval_right`` (by cause) and ``right_where_retrieval_wrong``: what reranking
    broke and what it fixed, against retrieval's own first candidate."""
    n = len(mentions)
    retrieval_right = np.asarray(retrieval_ranks) == 0
    out: dict = {"mentions": n}
    for name, scores in rankings.items():
        picks = _picks(scores)
        table = {cause: {"mentions": 0, "broke_retrieval": 0, "examples": []} for cause in CAUSES}
        fixed = wrong = 0
        for i in range(n):
            ys = labels[i]
            right = 0 <= picks[i] < len(ys) and bool(ys[picks[i]])
            if right:
                fixed += int(not retrieval_right[i])
                continue
            wrong += 1
            cause = error_cause(mentions[i], gold_ids[i], gold_in_kb[i], candidate_names[i], ys, picks[i])
            entry = table[cause]
            entry["mentions"] += 1
            entry["broke_retrieval"] += int(retrieval_right[i])
            if len(entry["examples"]) < examples:
                gold_names = [candidate_names[i][j] for j, y in enumerate(ys) if y]
                entry["examples"].append(
                    {
                        "mention": mentions[i],
                        "picked": candidate_names[i][picks[i]] if picks[i] >= 0 else None,
                        "gold": gold_names[0] if gold_names else None,
                        "gold_ids": list(gold_ids[i]),
                    }
                )
        for entry in table.values():
            entry["share_of_mentions"] = entry["mentions"] / n if n else 0.0
            entry["share_of_errors"] = entry["mentions"] / wrong if wrong else 0.0
        out[name] = {
            "errors": wrong,
            "wrong_where_retrieval_right": int(sum(e["broke_retrieval"] for e in table.values())),
            "right_where_retrieval_wrong": fixed,
            "causes": table,
        }
    return out


def cause_table(causes: dict) -> tuple[str, list[str], list[list[str]]]:
    """The report's view of :func:`error_causes`: a sentence, the headers and one row per cause that
    occurs (counts of the reported ranking and of the reranker alone, and one example)."""
    reported, alone = causes.get("reported") or {}, causes.get("reranker_alone") or {}
    n = causes.get("mentions", 0)
    sentence = (
        f"{reported.get('errors', 0)} of {n} mentions are linked wrong "
        f"({reported.get('wrong_where_retrieval_right', 0)} of them were right at retrieval's first candidate; "
        f"reranking fixed {reported.get('right_where_retrieval_wrong', 0)} that retrieval had wrong). "
        f"The reranker alone: {alone.get('errors', 0)} wrong, {alone.get('wrong_where_retrieval_right', 0)} "
        "of them right at retrieval. Causes are string heuristics (evaluation/error_causes.py)."
    )
    headers = ["cause", "wrong", "share of errors", "of them right at retrieval", "reranker alone wrong", "example"]
    rows = []
    for cause in CAUSES:
        a = (reported.get("causes") or {}).get(cause, {})
        b = (alone.get("causes") or {}).get(cause, {})
        if not a.get("mentions") and not b.get("mentions"):
            continue
        example = (a.get("examples") or b.get("examples") or [{}])[0]
        shown = (
            f"{example.get('mention')!r} -> {example.get('picked')!r} (gold {example.get('gold')!r})" if example else ""
        )
        rows.append(
            [
                cause,
                str(a.get("mentions", 0)),
                f"{a.get('share_of_errors', 0.0):.1%}",
                str(a.get("broke_retrieval", 0)),
                str(b.get("mentions", 0)),
                shown,
            ]
        )
    return sentence, headers, rows
