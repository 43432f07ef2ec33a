"""Evaluation maths: hand-computed examples, sklearn agreement and degenerate inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from xenc_toolkit.evaluation.metrics import (
    calibration_errors,
    grouped_linking_metrics,
    linking_metrics,
    pair_metrics,
    stage3_metrics,
)


def _plain(value) -> bool:
    """Only Python JSON types (no numpy scalars) all the way down."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or type(value) in (bool, int, float, str)


# --------------------------------------------------------------------------- pair metrics
LABELS = np.array([1, 0, 1, 0, 1, 0])
PROBS = np.array([0.9, 0.8, 0.6, 0.4, 0.3, 0.1])


def test_pair_metrics_hand_computed():
    m = pair_metrics(LABELS, PROBS, threshold=0.5)
    # predictions [1,1,1,0,0,0]: TP = 0.9, 0.6; FP = 0.8; FN = 0.3; TN = 0.4, 0.1
    assert m["confusion_matrix"] == {"tn": 2, "fp": 1, "fn": 1, "tp": 2}
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["specificity"] == pytest.approx(2 / 3)
    # positives {.9,.6,.3} beat negatives {.8,.4,.1} in 3 + 2 + 1 of 9 pairs
    assert m["roc_auc"] == pytest.approx(6 / 9)
    # positives at ranks 1, 3, 5: AP = (1/1 + 2/3 + 3/5) / 3
    assert m["pr_auc"] == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    assert m["brier_score"] == pytest.approx((0.01 + 0.64 + 0.16 + 0.16 + 0.49 + 0.01) / 6)
    assert m["threshold"] == 0.5 and m["n_pairs"] == 6 and m["n_positive"] == 3
    assert m["notes"] == []
    assert _plain(m)
    json.dumps(m)


def test_pair_metrics_threshold_is_inclusive():
    m = pair_metrics(LABELS, PROBS, threshold=0.6)
    assert m["confusion_matrix"]["tp"] == 2  # 0.6 >= 0.6 is predicted positive


def test_pair_metrics_agree_with_sklearn():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    p = np.clip(0.3 * y + rng.random(500) * 0.7, 0, 1)
    m = pair_metrics(y, p, threshold=0.45)
    pred = (p >= 0.45).astype(int)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert m["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert m["pr_auc"] == pytest.approx(skm.average_precision_score(y, p))
    assert m["brier_score"] == pytest.approx(skm.brier_score_loss(y, p))


@pytest.mark.parametrize("label", [0, 1])
def test_pair_metrics_one_class_does_not_crash(label):
    m = pair_metrics(np.full(5, label), np.linspace(0.1, 0.9, 5))
    assert m["roc_auc"] is None and m["pr_auc"] is None
    assert any("only one class" in note for note in m["notes"])
    assert m["accuracy"] is not None and m["brier_score"] is not None
    json.dumps(m)


def test_pair_metrics_empty():
    m = pair_metrics(np.array([], dtype=int), np.array([]))
    assert m["n_pairs"] == 0 and m["accuracy"] is None and m["roc_auc"] is None and m["brier_score"] is None
    assert m["confusion_matrix"] == {"tn": 0, "fp": 0, "fn": 0, "tp": 0}
    json.dumps(m)


def test_pair_metrics_no_predicted_positive_is_zero_with_note():
    m = pair_metrics(LABELS, PROBS, threshold=0.95)
    assert m["precision"] == 0.0 and m["recall"] == 0.0 and m["f1"] == 0.0
    assert any("precision" in note for note in m["notes"])


def test_pair_metrics_rejects_logits():
    with pytest.raises(ValueError, match="probabilities"):
        pair_metrics([0, 1], [-2.0, 3.0])
    with pytest.raises(ValueError, match="length"):
        pair_metrics([0, 1], [0.5])


# --------------------------------------------------------------------------- ECE / MCE
def test_calibration_errors_hand_computed_with_empty_bin():
    probs = np.array([0.1, 0.15, 0.3, 0.7, 0.75, 0.9, 1.0])
    labels = np.array([0, 1, 0, 1, 1, 0, 1])
    c = calibration_errors(labels, probs, n_bins=5)
    # bins [0,.2) [.2,.4) [.4,.6) [.6,.8) [.8,1]:
    #   {.1:0,.15:1}  mean .125 frac .5  gap .375
    #   {.3:0}        mean .3   frac 0   gap .3
    #   empty
    #   {.7:1,.75:1}  mean .725 frac 1   gap .275
    #   {.9:0,1.0:1}  mean .95  frac .5  gap .45
    assert c["ece"] == pytest.approx((2 * 0.375 + 1 * 0.3 + 2 * 0.275 + 2 * 0.45) / 7)
    assert c["mce"] == pytest.approx(0.45)
    assert c["n_bins"] == 5 and len(c["bins"]) == 5
    assert [b["count"] for b in c["bins"]] == [2, 1, 0, 2, 2]
    assert c["bins"][2] == {"lower": 0.4, "upper": 0.6, "count": 0, "mean_prob": None, "frac_pos": None}
    assert c["bins"][0]["mean_prob"] == pytest.approx(0.125) and c["bins"][0]["frac_pos"] == 0.5
    assert c["bins"][4]["lower"] == 0.8 and c["bins"][4]["upper"] == 1.0
    assert _plain(c)
    # the old (wrong) definition, thresholded accuracy vs mean probability, gives a different number
    acc = [(np.array([0, 0]) == [0, 1]).mean(), 1.0, None, 1.0, 0.5]
    wrong = (2 * abs(acc[0] - 0.125) + abs(acc[1] - 0.3) + 2 * abs(acc[3] - 0.725) + 2 * abs(acc[4] - 0.95)) / 7
    assert c["ece"] != pytest.approx(wrong)


def test_calibration_errors_bin_edges():
    c = calibration_errors([0, 1, 1, 0], [0.0, 0.2, 0.6, 1.0], n_bins=5)
    # bin i holds lower <= p < upper; p == 1 goes into the last bin
    assert [b["count"] for b in c["bins"]] == [1, 1, 0, 1, 1]


def test_calibration_errors_perfect_and_worst():
    assert calibration_errors([0, 0, 1, 1], [0.0, 0.0, 1.0, 1.0])["ece"] == 0.0
    worst = calibration_errors([1, 1, 0, 0], [0.0, 0.0, 1.0, 1.0])
    assert worst["ece"] == 1.0 and worst["mce"] == 1.0


def test_calibration_errors_agree_with_sklearn_calibration_curve():
    rng = np.random.default_rng(0)
    p = rng.random(2000)
    y = (rng.random(2000) < p**1.5).astype(int)
    c = calibration_errors(y, p, n_bins=10)
    frac_pos, mean_prob = calibration_curve(y, p, n_bins=10, strategy="uniform")
    filled = [b for b in c["bins"] if b["count"]]
    np.testing.assert_allclose([b["frac_pos"] for b in filled], frac_pos)
    np.testing.assert_allclose([b["mean_prob"] for b in filled], mean_prob)
    counts = np.array([b["count"] for b in filled])
    assert c["ece"] == pytest.approx(np.sum(counts / counts.sum() * np.abs(frac_pos - mean_prob)))


def test_calibration_errors_empty():
    c = calibration_errors([], [], n_bins=4)
    assert c["ece"] is None and c["mce"] is None and [b["count"] for b in c["bins"]] == [0, 0, 0, 0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.integers(0, 1)), min_size=1, max_size=60), st.integers(2, 20))
def test_calibration_errors_properties(pairs, n_bins):
    probs = np.array([p for p, _ in pairs])
    labels = np.array([y for _, y in pairs])
    c = calibration_errors(labels, probs, n_bins=n_bins)
    assert sum(b["count"] for b in c["bins"]) == len(pairs)
    assert 0.0 <= c["ece"] <= c["mce"] + 1e-12 <= 1.0 + 1e-12


# --------------------------------------------------------------------------- linking
def test_linking_metrics_hand_computed_with_misses_kept():
    ranks = np.array([0, 2, -1, 7, 0, -1])
    in_kb = np.array([True, True, True, True, True, False])
    m = linking_metrics(ranks, n_candidates=8, ks=(1, 5, 10), gold_in_kb=in_kb)
    assert m["acc@1"] == pytest.approx(2 / 6)
    assert m["recall@1"] == pytest.approx(2 / 6)
    assert m["recall@5"] == pytest.approx(3 / 6)
    assert m["recall@8"] == pytest.approx(4 / 6)  # the candidate-list ceiling
    assert "recall@10" not in m  # k > n_candidates
    assert m["mrr"] == pytest.approx((1 + 1 / 3 + 0 + 1 / 8 + 1 + 0) / 6)
    assert m["n_mentions"] == 6  # the gold-not-in-KB mention stays in the denominator
    assert m["n_gold_in_candidates"] == 4
    assert m["n_gold_not_in_kb"] == 1
    assert m["n_gold_in_kb_not_in_candidates"] == 1
    assert _plain(m)


def test_linking_metrics_without_kb_flags_counts_all_misses_as_retrieval_misses():
    m = linking_metrics([0, -1, -1, 1], n_candidates=4, ks=(1, 2))
    assert "n_gold_not_in_kb" not in m
    assert m["n_gold_in_kb_not_in_candidates"] == 2
    assert list(k for k in m if k.startswith("recall@")) == ["recall@1", "recall@2", "recall@4"]


def test_linking_metrics_bad_input():
    with pytest.raises(ValueError, match="outside"):
        linking_metrics([0, 8], n_candidates=8)
    with pytest.raises(ValueError, match="not in the KB"):
        linking_metrics([0, 1], n_candidates=8, gold_in_kb=[True, False])
    with pytest.raises(ValueError, match=">= -1"):
        linking_metrics([-2], n_candidates=8)


def test_linking_metrics_empty():
    m = linking_metrics(np.array([], dtype=int), n_candidates=5)
    assert m["acc@1"] is None and m["mrr"] is None and m["n_mentions"] == 0


# --------------------------------------------------------------------------- stage 3
def test_stage3_definitions():
    s = stage3_metrics([0.95, 0.9, 0.5, 0.2], [0.03, 0.05, 0.4, 0.0], high_confidence=0.9)
    assert s["high_confidence_pct"] == pytest.approx(50.0)  # 0.95 and 0.9 (inclusive) of 4
    assert s["mean_top_score"] == pytest.approx(2.55 / 4)
    assert s["mean_margin"] == pytest.approx((0.92 + 0.85 + 0.1 + 0.2) / 4)
    assert s["threshold"] == 0.9 and s["n_mentions"] == 4
    assert _plain(s)
    assert stage3_metrics([], [])["mean_top_score"] is None


# --------------------------------------------------------------------------- per group
def test_grouped_linking_metrics_multi_type_mentions():
    reranked = [0, 1, -1, 0]
    retrieval = [1, 1, 0, -1]
    groups = [("T047",), ("T047", "T121", "T047"), ("T121",), ()]
    g = grouped_linking_metrics(reranked, retrieval, groups, n_candidates=4, ks=(1, 2))
    assert set(g) == {"T047", "T121", "(none)"}
    assert g["T047"]["n_mentions"] == 2  # a repeated key counts once per mention
    assert g["T047"]["acc@1"] == 0.5 and g["T047"]["retrieval_acc@1"] == 0.0
    assert g["T047"]["recall@2"] == 1.0 and g["T047"]["mrr"] == pytest.approx((1 + 0.5) / 2)
    assert g["T121"]["acc@1"] == 0.0 and g["T121"]["retrieval_acc@1"] == 0.5
    assert g["(none)"]["acc@1"] == 1.0 and g["(none)"]["retrieval_acc@1"] == 0.0
    assert sum(v["n_mentions"] for v in g.values()) == 5  # > 4 mentions: multi-type counts in each
    assert _plain(g)
    kept = grouped_linking_metrics(reranked, retrieval, groups, n_candidates=4, min_count=2)
    assert set(kept) == {"T047", "T121"}
    assert list(kept) == ["T047", "T121"]  # ordered by size, then key
    no_base = grouped_linking_metrics(reranked, None, groups, n_candidates=4)
    assert not any(k.startswith("retrieval_") for k in no_base["T047"])


def test_top_two_orders_by_the_ranking_when_given():
    from xenc_toolkit.reranker.ranking import top_two

    probs = [np.array([0.9, 0.6, 0.2]), np.array([0.5]), np.array([])]
    index, top, second = top_two(probs)
    assert index.tolist() == [0, 0, -1] and top.tolist() == [0.9, 0.5, 0.0] and second.tolist() == [0.6, 0.0, 0.0]
    fused = [np.array([1.0, 3.0, 2.0]), np.array([7.0]), np.array([])]
    index, top, second = top_two(probs, fused)
    assert index.tolist() == [1, 0, -1] and top.tolist() == [0.6, 0.5, 0.0] and second.tolist() == [0.2, 0.0, 0.0]
