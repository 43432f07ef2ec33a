"""P(top-1 correct), selective-linking figures, tiers and NIL (issue #19)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from xenc_toolkit.calibration.confidence import (
    LinkConfidence,
    fit_link_confidence,
    high_threshold,
    list_features,
    nil_threshold,
)
from xenc_toolkit.config import CalibrateConfig, EvaluateConfig
from xenc_toolkit.evaluation.metrics import calibration_errors
from xenc_toolkit.evaluation.selective import (
    aurc,
    coverage_at_precision,
    nil_metrics,
    precision_at_coverage,
    risk_coverage,
)
from xenc_toolkit.reranker.model_dir import CONFIDENCE_FILE


@pytest.fixture()
def rng():
    return np.random.default_rng(7)


# --------------------------------------------------------------------------- selective metrics, by hand
def test_risk_coverage_by_hand_with_ties_kept_together():
    confidence = [0.9, 0.8, 0.8, 0.3]
    correct = [1, 1, 0, 0]
    coverage, risk = risk_coverage(confidence, correct)
    assert coverage.tolist() == [0.25, 0.5, 0.75, 1.0]
    # the tie at 0.8 cannot be split by a threshold: k = 2 takes the risk of both tied links (1 of 3 wrong)
    assert risk.tolist() == pytest.approx([0.0, 1 / 3, 1 / 3, 0.5])
    assert aurc(confidence, correct) == pytest.approx((0 + 1 / 3 + 1 / 3 + 0.5) / 4)
    assert coverage_at_precision(confidence, correct, 0.95) == 0.25
    assert coverage_at_precision(confidence, correct, 0.6) == 0.75
    assert precision_at_coverage(confidence, correct, 0.5) == pytest.approx(2 / 3)
    assert precision_at_coverage(confidence, correct, 1.0) == 0.5


def test_a_confidence_that_ranks_errors_last_has_the_lowest_aurc(rng):
    correct = rng.random(500) < 0.7
    oracle = correct + rng.random(500) * 0.1
    noise = rng.random(500)
    assert aurc(oracle, correct) < aurc(noise, correct)
    assert coverage_at_precision(oracle, correct, 0.99) == pytest.approx(correct.mean(), abs=0.01)


def test_nil_metrics_match_sklearn(rng):
    nil = rng.random(300) < 0.3
    probability = np.clip(0.7 - 0.4 * nil + rng.normal(0, 0.2, 300), 0, 1)
    out = nil_metrics(probability, nil, 0.4)
    assert out["nil_auroc"] == pytest.approx(roc_auc_score(nil, 1 - probability))
    assert out["nil_f1"] == pytest.approx(f1_score(nil, probability < 0.4))
    assert nil_metrics(probability, np.zeros(300, bool), 0.4)["nil_auroc"] is None  # no NIL: undefined


def test_thresholds_by_hand():
    p = np.array([0.95, 0.9, 0.85, 0.6, 0.2])
    correct = np.array([True, True, True, False, False])
    assert high_threshold(p, correct, 0.95) == 0.85  # the three above 0.85 are all right
    assert high_threshold(p, np.zeros(5, bool), 0.95) is None
    t, f1 = nil_threshold(p, np.array([False, False, False, False, True]))
    assert 0.2 < t <= 0.6 and f1 == 1.0


# --------------------------------------------------------------------------- the fitted confidence
def _lists(rng, n: int, size: int = 8, nil_share: float = 0.2):
    """Synthetic candidate lists: the gold is ahead by a margin that varies, so correctness varies with it."""
    logits, retrieval, labels, in_kb = [], [], [], []
    for _ in range(n):
        x = rng.normal(0, 1, size)
        r = np.sort(rng.uniform(0.3, 0.9, size))[::-1]
        y = np.zeros(size, dtype=int)
        if rng.random() > nil_share:
            gold = int(rng.integers(size))
            x[gold] += rng.normal(2.5, 1.5)
            y[gold] = 1
            in_kb.append(True)
        else:
            in_kb.append(False)
        logits.append(x)
        retrieval.append(r)
        labels.append(y)
    return logits, retrieval, labels, in_kb


def _correct(logits, labels):
    return np.array([bool(y[int(np.argmax(x))]) for x, y in zip(logits, labels, strict=True)])


def test_link_confidence_is_calibrated_out_of_sample(rng):
    fit = fit_link_confidence(*_lists(rng, 5000), seed=1)
    logits, retrieval, labels, in_kb = _lists(rng, 20000)  # enough new lists that binning noise is small
    p = np.array([fit.probability(x, r) for x, r in zip(logits, retrieval, strict=True)])
    correct = _correct(logits, labels)
    assert calibration_errors(correct.astype(int), p)["ece"] < 0.03
    # the high tier's threshold was set out of fold: on new lists it is about as precise as promised
    assert fit.high is not None
    assert correct[p >= fit.high].mean() >= 0.92
    # NIL lists (no gold at all) get low probabilities: detectable
    assert roc_auc_score(~np.array(in_kb), 1 - p) > 0.8
    assert fit.report["out_of_fold_ece"] < 0.05 and fit.report["simulated_nil_lists"] > 0


def test_link_confidence_round_trip_and_tiers(rng):
    fit = fit_link_confidence(*_lists(rng, 800), seed=2)
    again = LinkConfidence.from_dict(json.loads(json.dumps(fit.to_dict())))
    x, _ = list_features(np.array([3.0, 0.1, -1.0]), np.array([0.9, 0.5, 0.4]))
    assert again.probabilities(x[None, :])[0] == pytest.approx(fit.probabilities(x[None, :])[0])
    assert again.tier(0.0) == "low" if again.nil > 0 else again.tier(0.0) in ("review", "low")
    if fit.high is not None:
        assert fit.tier(1.0) == "high"
    shares = fit.candidate_probabilities([3.0, 0.1, -1.0], [0.9, 0.5, 0.4])
    assert shares.sum() == pytest.approx(1.0) and list(shares) == sorted(shares, reverse=True)


# --------------------------------------------------------------------------- through calibrate, evaluate, link
@pytest.fixture(scope="module")
def calibrated(tmp_path_factory, tiny_model, tiny_pipeline):
    from xenc_toolkit import api

    model_dir = shutil.copytree(tiny_model, tmp_path_factory.mktemp("confidence") / "model")
    api.calibrate(CalibrateConfig(model_dir=model_dir, pairs_dir=tiny_pipeline["pairs"], folds=3, min_examples=10))
    return model_dir


def test_calibrate_saves_the_link_confidence_and_evaluate_reports_selective_figures(
    tmp_path, calibrated, tiny_pipeline
):
    from xenc_toolkit import api

    saved = json.loads((calibrated / CONFIDENCE_FILE).read_text())
    assert saved["fit_on"]["split"] == "dev"  # 'auto': no validation split was mined
    results = api.evaluate(
        EvaluateConfig(model_dir=calibrated, pairs_dir=tiny_pipeline["pairs"], output_dir=tmp_path / "r")
    )
    selective = results["selective"]
    for key in (
        "ece_top1",
        "aurc_xenc",
        "aurc_best_retrieval_confidence",
        "coverage_at_precision_095",
        "coverage_at_precision_099",
        "precision_at_coverage_080",
        "precision_at_coverage_060",
        "nil_auroc",
        "nil_f1",
    ):
        assert key in selective, key
    assert results["split"] == "dev" and selective["in_sample"] is True  # 'auto' had no test split
    assert selective["aurc_best_retrieval_confidence"] == min(
        selective["retrieval"]["score"]["aurc"], selective["retrieval"]["margin"]["aurc"]
    )
    assert sum(t["mentions"] for t in selective["tiers"].values()) == results["linking_metrics"]["n_mentions"]
    assert (tmp_path / "r" / "risk_coverage.png").read_bytes()[:4] == b"\x89PNG"
    report = (tmp_path / "r" / "report.md").read_text()
    assert "**In-sample" in report and "Selective linking" in report


def test_linker_returns_nil_with_a_reason_and_sorted_alternatives(tmp_path, calibrated, tiny_pipeline):
    from xenc_toolkit.linking import Linker

    model_dir = shutil.copytree(calibrated, tmp_path / "model")
    kb = tiny_pipeline["kb"]
    linker = Linker.from_pretrained(model_dir, tiny_pipeline["index"], device="cpu")
    result = linker.link([kb.name_list[0]], top_k=4)[0]
    probs = [c.probability for c in result.alternatives]
    assert probs == sorted(probs, reverse=True)
    assert result.tier in ("high", "review", "low")
    assert all(c.pair_probability is not None for c in result.alternatives)
    # a NIL threshold above every probability: every mention is NIL, with the reason and the candidates kept
    data = json.loads((model_dir / CONFIDENCE_FILE).read_text())
    data["nil"] = 1.01
    (model_dir / CONFIDENCE_FILE).write_text(json.dumps(data))
    nil = Linker.from_pretrained(model_dir, tiny_pipeline["index"], device="cpu").link([kb.name_list[0]])[0]
    assert nil.concept_id is None and nil.name is None and nil.tier == "low"
    assert "NIL threshold" in nil.nil_reason and nil.alternatives
