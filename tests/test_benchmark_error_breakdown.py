"""The quality benchmarks' error analysis (benchmarks/quality_common.error_breakdown): groups and ceiling."""

import numpy as np

from benchmarks.quality_common import error_breakdown


def _lists():
    # NCBI-disease-shaped candidate lists: mention, the name retrieval matched per candidate, gold labels
    return {
        "mention": ["Breast cancer", "breast and ovarian cancer", "SJS", "APRT deficiency", "hereditary cancer"],
        "candidate_names": [
            ["Breast Neoplasms", "breast  CANCER"],  # the gold's name is the mention (case, spacing aside)
            ["breast and ovarian cancer", "Cancer, Ovarian"],  # only another concept's name is
            ["SJS", "SJS"],  # shared name, gold second
            ["APRT Deficiency", "APRT"],  # exact name, not the gold's
            ["Hereditary cancers", "Neoplasms"],  # gold not among the candidates
        ],
        "labels": [[0, 1], [0, 1], [0, 1], [0, 1], [0, 0]],
    }


def test_groups_by_how_the_gold_name_matches_the_mention():
    fused = np.array([0, 1, 1, 1, -1])
    alone = np.array([1, 0, 0, 1, -1])
    out = error_breakdown(_lists(), fused, alone)
    assert out["gold_exact"] == {"mentions": 2, "share": 0.4, "acc@1": 0.5, "reranker_alone_acc@1": 0.5}
    assert out["other_exact"] == {"mentions": 2, "share": 0.4, "acc@1": 0.0, "reranker_alone_acc@1": 0.5}
    assert out["no_exact"]["mentions"] == 0 and out["no_exact"]["acc@1"] is None
    # the ceiling counts every gold_exact mention right and keeps the rest: (2 + 0) of the 4 with a gold
    assert out["acc@1_given_gold_if_gold_exact_all_right"] == 0.5


def test_no_exact_group_and_no_gold_anywhere():
    lists = {
        "mention": ["renal lesions"],
        "candidate_names": [["renal disease", "Renal Neoplasms"]],
        "labels": [[0, 1]],
    }
    out = error_breakdown(lists, np.array([0]), np.array([1]))
    assert out["no_exact"] == {"mentions": 1, "share": 1.0, "acc@1": 1.0, "reranker_alone_acc@1": 0.0}
    assert out["acc@1_given_gold_if_gold_exact_all_right"] == 1.0
    empty = error_breakdown(
        {"mention": ["x"], "candidate_names": [["y"]], "labels": [[0]]}, np.array([-1]), np.array([-1])
    )
    assert "acc@1_given_gold_if_gold_exact_all_right" not in empty
    assert all(empty[g]["mentions"] == 0 for g in ("gold_exact", "other_exact", "no_exact"))
