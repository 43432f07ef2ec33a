"""Error causes on real NCBI-disease mentions and MEDIC names (evaluation/error_causes.py)."""

from __future__ import annotations

import numpy as np
import pytest

from xenc_toolkit.evaluation.error_causes import CAUSES, cause_table, error_cause, error_causes

# (mention, gold ids, candidate names (matched synonym), labels, picked index, expected cause): mentions
# and names as they appear in NCBI-disease train/dev and MEDIC 2012-07-06
CASES = [
    ("DMD", ["D020388"], ["Dystonia Musculorum Deformans", "Muscular Dystrophy, Duchenne"], [0, 1], 0, "abbreviation"),
    ("A-T", ["D001260"], ["AT", "Ataxia Telangiectasia"], [0, 1], 0, "abbreviation"),
    (
        "breast and ovarian cancer",
        ["D001943", "D010051"],
        ["Hereditary Breast and Ovarian Cancer Syndrome", "Breast Neoplasms", "Ovarian Neoplasms"],
        [0, 1, 1],
        0,
        "composite",
    ),
    ("hemophilia", ["D006467"], ["Hemophilia", "hemophilia"], [0, 1], 0, "shared_name"),
    ("colorectal cancer", ["D015179"], ["Colorectal Cancer", "Colorectal Neoplasms"], [0, 1], 0, "other_concept_exact"),
    (
        "inherited retinal dystrophies",
        ["D058499"],
        ["Retinal Dystrophy, Inherited", "Retinal Dystrophies"],
        [0, 1],
        0,
        "near_duplicate_names",
    ),
    ("tumour", ["D009369"], ["Tumor Lysis Syndrome", "Neoplasms"], [0, 1], 0, "synonym_missing"),
    (
        "familial adenomatous polyposis",
        ["D011125"],
        ["Familial Polyposis Syndrome", "Adenomatous Polyposis Coli"],
        [0, 1],
        0,
        "other",
    ),
    ("cancer", ["D009369"], ["Colorectal Neoplasms", "Lung Neoplasms"], [0, 0], 0, "not_in_candidates"),
]


@pytest.mark.parametrize("mention,gold,names,labels,picked,expected", CASES, ids=[c[-1] + ":" + c[0] for c in CASES])
def test_each_cause_on_real_mentions(mention, gold, names, labels, picked, expected):
    assert error_cause(mention, gold, True, names, labels, picked) == expected


def test_a_nil_mention_is_never_blamed_on_the_reranker():
    assert error_cause("DMD", ["C9999999"], False, ["Muscular Dystrophy, Duchenne"], [0], 0) == "gold_not_in_kb"


def test_abbreviation_heuristic_leaves_ordinary_words_alone():
    for word in ("cancer", "Tumor", "ALL cancers", "hypertrophic-cardiomyopathy"):
        assert error_cause(word, ["D1"], True, ["x", "y"], [0, 1], 0) != "abbreviation"


def test_table_counts_every_error_once_and_what_reranking_broke_and_fixed():
    mentions = [c[0] for c in CASES]
    golds = [c[1] for c in CASES]
    names = [c[2] for c in CASES]
    labels = [c[3] for c in CASES]
    # the reranker picks index 0 everywhere (wrong in every case); retrieval had the gold first in the
    # first three lists; a second ranking picks the last candidate (right wherever the gold is last)
    wrong_first = [np.array([1.0] + [0.0] * (len(n) - 1)) for n in names]
    right_last = [np.array([0.0] * (len(n) - 1) + [1.0]) for n in names]
    retrieval = np.array([0, 0, 0] + [1] * (len(CASES) - 3))
    out = error_causes(
        mentions,
        golds,
        [True] * len(CASES),
        names,
        labels,
        {"reported": right_last, "reranker_alone": wrong_first},
        retrieval,
        examples=1,
    )
    alone = out["reranker_alone"]
    assert alone["errors"] == len(CASES)
    assert {cause: alone["causes"][cause]["mentions"] for cause in CAUSES} == {
        cause: sum(1 for c in CASES if c[-1] == cause) for cause in CAUSES
    }
    assert alone["wrong_where_retrieval_right"] == 3 and alone["right_where_retrieval_wrong"] == 0
    assert alone["causes"]["abbreviation"]["examples"] == [
        {
            "mention": "DMD",
            "picked": "Dystonia Musculorum Deformans",
            "gold": "Muscular Dystrophy, Duchenne",
            "gold_ids": ["D020388"],
        }
    ]
    reported = out["reported"]
    # right wherever the last candidate is a gold: all but the list without a gold
    assert reported["errors"] == 1 and reported["causes"]["not_in_candidates"]["mentions"] == 1
    assert reported["right_where_retrieval_wrong"] == len(CASES) - 3 - 1
    sentence, headers, rows = cause_table(out)
    assert "1 of 9 mentions are linked wrong" in sentence
    assert [r[0] for r in rows] == [c for c in CAUSES if alone["causes"][c]["mentions"]]
    assert len(headers) == len(rows[0])
