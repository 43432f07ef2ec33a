"""Calibration: calibrators, selection on held-out folds, per-type thresholds, the JSON bundle."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss

from xenc_toolkit.calibration import (
    Calibration,
    IsotonicCalibrator,
    PlattScaler,
    TemperatureScaler,
    ThresholdTable,
    best_threshold,
    calibrator_from_dict,
    fit_calibration,
    fit_thresholds,
    make_calibrator,
    select_calibrator,
)
from xenc_toolkit.calibration import selection as selection_module
from xenc_toolkit.errors import InputFormatError, MissingInputError
from xenc_toolkit.evaluation.metrics import calibration_errors
from xenc_toolkit.reranker.model_dir import CALIBRATION_FILE as CALIBRATION_FILENAME


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _miscalibrated(n: int, temperature: float = 3.0, bias: float = 0.0, seed: int = 0):
    """Over-confident logits: the true probability is sigmoid(logit / T + bias)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 4.0, n)
    labels = (rng.random(n) < _sigmoid(logits / temperature + bias)).astype(int)
    return logits, labels


# --------------------------------------------------------------------------- calibrators
def test_temperature_recovers_t_and_lowers_held_out_ece():
    logits, labels = _miscalibrated(20_000, temperature=3.0)
    train, test = slice(0, 10_000), slice(10_000, None)
    scaler = TemperatureScaler().fit(logits[train], labels[train])
    assert scaler.temperature == pytest.approx(3.0, abs=0.25)
    raw_ece = calibration_errors(labels[test], _sigmoid(logits[test]))["ece"]
    cal_ece = calibration_errors(labels[test], scaler.predict_proba(logits[test]))["ece"]
    assert raw_ece > 0.1
    assert cal_ece < 0.03 and cal_ece < raw_ece / 4


def test_temperature_below_one_for_under_confident_scores():
    logits, labels = _miscalibrated(10_000, temperature=0.5, seed=1)
    assert TemperatureScaler().fit(logits, labels).temperature == pytest.approx(0.5, abs=0.08)


def test_platt_recovers_slope_and_bias():
    logits, labels = _miscalibrated(20_000, temperature=2.0, bias=1.0, seed=2)
    platt = PlattScaler().fit(logits, labels)
    assert platt.a == pytest.approx(0.5, abs=0.05)
    assert platt.b == pytest.approx(1.0, abs=0.1)


def test_isotonic_is_monotone_and_clips():
    logits, labels = _miscalibrated(3_000, seed=4)
    iso = IsotonicCalibrator().fit(logits, labels)
    grid = np.linspace(-50, 50, 2001)
    probs = iso.predict_proba(grid)
    assert np.all(np.diff(probs) >= 0)
    assert probs.min() >= 0 and probs.max() <= 1
    assert iso.predict_proba([-1e6])[0] == probs[0] and iso.predict_proba([1e6])[0] == probs[-1]


@pytest.mark.parametrize("method", ["temperature", "platt", "isotonic"])
def test_calibrator_json_round_trip_is_exact(method):
    logits, labels = _miscalibrated(2_000, seed=5)
    calibrator = make_calibrator(method).fit(logits, labels)
    restored = calibrator_from_dict(json.loads(json.dumps(calibrator.to_dict())))
    assert restored.name == method
    probe = np.concatenate([logits, np.linspace(-30, 30, 301)])
    np.testing.assert_array_equal(restored.predict_proba(probe), calibrator.predict_proba(probe))


def test_calibrators_need_both_classes():
    for method in ("temperature", "platt", "isotonic"):
        with pytest.raises(ValueError, match="both"):
            make_calibrator(method).fit([0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match="unknown calibration method"):
        make_calibrator("beta")


# --------------------------------------------------------------------------- selection
def _tiny(seed: int, mentions: int = 12, per_mention: int = 3):
    rng = np.random.default_rng(seed)
    n = mentions * per_mention
    logits = rng.normal(0.0, 2.0, n)
    labels = (rng.random(n) < _sigmoid(logits)).astype(int)
    return logits, labels, np.repeat(np.arange(mentions), per_mention)


def test_selection_does_not_pick_the_method_that_overfits_its_training_data():
    logits, labels, groups = _tiny(seed=0)
    in_sample = {
        m: brier_score_loss(labels, make_calibrator(m).fit(logits, labels).predict_proba(logits))
        for m in ("temperature", "platt", "isotonic")
    }
    # fitted and scored on the same pairs, isotonic always looks best ...
    assert min(in_sample, key=in_sample.get) == "isotonic"
    for metric in ("brier", "log_loss"):
        chosen, report = select_calibrator(logits, labels, groups, folds=4, metric=metric, seed=0)
        # ... but on held-out folds it is worse, and is not chosen
        assert chosen.name != "isotonic"
        assert report["isotonic"][metric] > report[chosen.name][metric]
        assert report["isotonic"]["brier"] > in_sample["isotonic"]
    # over many small data sets held-out selection rarely picks isotonic (in-sample would always)
    picks = [select_calibrator(*_tiny(seed), folds=4, seed=seed)[0].name for seed in range(6)]
    assert picks.count("isotonic") <= 2


def test_selection_picks_isotonic_when_the_miscalibration_is_not_sigmoid_shaped():
    rng = np.random.default_rng(7)
    logits = rng.normal(0.0, 3.0, 6_000)
    true_p = np.where(logits > 1.0, 0.85, 0.1)  # a step: no sigmoid fits it
    labels = (rng.random(6_000) < true_p).astype(int)
    chosen, report = select_calibrator(logits, labels, np.repeat(np.arange(1_000), 6), metric="brier")
    assert chosen.name == "isotonic"
    assert set(report) == {"temperature", "platt", "isotonic"}
    for scores in report.values():
        assert set(scores) == {"brier", "ece", "log_loss", "n_folds"} and scores["n_folds"] == 5


class _Spy(TemperatureScaler):
    name = "spy"
    fitted_on: list[np.ndarray] = []

    def fit(self, logits, labels):
        _Spy.fitted_on.append(np.asarray(logits).copy())
        return super().fit(logits, labels)


def test_selection_folds_keep_a_mentions_pairs_together(monkeypatch):
    monkeypatch.setitem(selection_module.CALIBRATORS, "spy", _Spy)
    _Spy.fitted_on = []
    logits, labels = _miscalibrated(600, seed=8)
    logits = logits + np.arange(600) * 1e-9  # unique, so a logit identifies its pair
    mention = np.repeat(np.arange(100), 6)
    chosen, report = select_calibrator(logits, labels, mention, methods=("spy",), folds=5, seed=3)
    assert report["spy"]["n_folds"] == 5
    assert len(_Spy.fitted_on) == 6  # 5 folds, then the refit on everything
    np.testing.assert_array_equal(_Spy.fitted_on[-1], logits)
    held_out_union = set()
    for fitted in _Spy.fitted_on[:-1]:
        in_train = np.isin(logits, fitted)
        per_mention = in_train.reshape(100, 6)
        assert np.all(per_mention.all(axis=1) | ~per_mention.any(axis=1))  # all or none of a mention's pairs
        assert 0 < in_train.sum() < 600
        held_out_union |= set(np.flatnonzero(~in_train).tolist())
    assert held_out_union == set(range(600))  # every pair is held out once


def test_selection_with_fewer_mentions_than_folds():
    logits, labels, groups = _tiny(seed=1, mentions=3, per_mention=8)
    chosen, report = select_calibrator(logits, labels, groups, folds=5, methods=("temperature",))
    assert report["temperature"]["n_folds"] <= 3
    with pytest.raises(ValueError, match="two mentions"):
        select_calibrator(logits, labels, np.zeros(len(logits)), folds=5)


# --------------------------------------------------------------------------- thresholds
def test_best_threshold_f1_hand_computed():
    probs = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    labels = np.array([1, 1, 0, 1, 0, 0])
    # thresholds .9 .8 .7 .6 .5 .4 give F1 1/2, 4/5, 2/3, 6/7, 3/4, 2/3
    stats = best_threshold(probs, labels, "f1")
    assert stats["threshold"] == 0.6
    assert stats["f1"] == pytest.approx(6 / 7)
    assert stats["precision"] == pytest.approx(3 / 4) and stats["recall"] == 1.0


def test_best_threshold_precision_target_and_fallback():
    probs = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    labels = np.array([1, 1, 0, 1, 0, 0])
    stats = best_threshold(probs, labels, "precision", precision_target=0.7)
    assert stats["threshold"] == 0.6 and stats["target_reached"]  # lowest threshold with precision >= 0.7
    strict = best_threshold(probs, labels, "precision", precision_target=0.99)
    assert strict["threshold"] == 0.8 and strict["precision"] == 1.0
    unreachable = best_threshold(np.array([0.9, 0.8, 0.3]), np.array([0, 1, 0]), "precision", precision_target=0.9)
    assert not unreachable["target_reached"]
    assert unreachable["threshold"] == best_threshold(np.array([0.9, 0.8, 0.3]), np.array([0, 1, 0]), "f1")["threshold"]


def _precision(labels, probs, threshold) -> float:
    return float(np.asarray(labels)[probs >= threshold].mean())


def _typed_pairs(seed: int = 0):
    """Pairs of real TUIs: T047 (DISO) many, T191 (DISO) few, T023 (ANAT, alone in its group) few."""
    rng = np.random.default_rng(seed)
    spec = [(("T047",), 400, 0.0), (("T191",), 30, 1.5), (("T023",), 20, -1.0), (("T047", "T121"), 100, 0.5)]
    probs, labels, types = [], [], []
    for tuis, n, shift in spec:
        logits = rng.normal(0, 2, n)
        probs.append(_sigmoid(logits + shift))
        labels.append((rng.random(n) < _sigmoid(1.5 * logits)).astype(int))
        types += [tuis] * n
    return np.concatenate(probs), np.concatenate(labels), types


def test_thresholds_fall_back_from_type_to_group_to_global():
    probs, labels, types = _typed_pairs()
    table = fit_thresholds(probs, labels, types, objective="f1", min_examples=50)
    assert set(table.types) == {"T047", "T121"}  # T121 appears with T047 in 100 pairs
    assert table.fallback_types == {"T191": 30, "T023": 20}
    assert "DISO" in table.groups and "CHEM" in table.groups
    assert "ANAT" not in table.groups and table.fallback_groups == {"ANAT": 20}

    assert table.source_for(("T047",)) == "type"
    assert table.threshold_for(("T047",)) == table.types["T047"]["threshold"]
    assert table.source_for(("T191",)) == "group"  # Neoplastic Process -> DISO
    assert table.threshold_for(("T191",)) == table.groups["DISO"]["threshold"]
    assert table.source_for(("T023",)) == "global"
    assert table.threshold_for(("T023",)) == table.global_threshold
    assert table.source_for(("T191", "T121")) == "type"  # the first TUI with its own threshold
    assert table.threshold_for(("T191", "T121")) == table.types["T121"]["threshold"]
    assert table.source_for(()) == "global" and table.source_for(("T999",)) == "global"
    assert table.source_for("T047") == "type"  # a bare TUI string works too
    np.testing.assert_array_equal(
        table.thresholds_for([("T047",), ("T023",)]), [table.types["T047"]["threshold"], table.global_threshold]
    )
    # everything falls back to global when min_examples is above every count
    coarse = fit_thresholds(probs, labels, types, min_examples=10_000)
    assert not coarse.types and not coarse.groups and coarse.source_for(("T047",)) == "global"


def test_f1_thresholds_maximise_f1_on_their_pairs():
    probs, labels, types = _typed_pairs(seed=1)
    table = fit_thresholds(probs, labels, types, objective="f1", min_examples=50)
    mask = np.array(["T047" in t for t in types])
    p, y = probs[mask], labels[mask]
    f1_at = {t: (2 * ((p >= t) & (y == 1)).sum()) / ((p >= t).sum() + y.sum()) for t in np.unique(p)}
    assert table.types["T047"]["f1"] == pytest.approx(max(f1_at.values()))


def test_precision_target_thresholds_reach_the_target_on_the_fitting_data():
    probs, labels, types = _typed_pairs(seed=2)
    target = 0.9
    table = fit_thresholds(probs, labels, types, objective="precision", precision_target=target, min_examples=50)
    assert table.precision_target == target
    checked = 0
    for key, stats in {**table.types, "global": table.global_stats}.items():
        if key == "global":
            p, y = probs, labels
        else:
            mask = np.array([key in t for t in types])
            p, y = probs[mask], labels[mask]
        if not stats["target_reached"]:
            continue
        checked += 1
        t = stats["threshold"]
        assert _precision(y, p, t) >= target
        lower = np.unique(p[p < t])
        assert all(_precision(y, p, s) < target for s in lower)  # it is the lowest such threshold
    assert checked >= 2


def test_threshold_table_round_trip():
    probs, labels, types = _typed_pairs()
    table = fit_thresholds(probs, labels, types, min_examples=50)
    restored = ThresholdTable.from_dict(json.loads(json.dumps(table.to_dict())))
    assert restored.to_dict() == table.to_dict()
    for tuis in [("T047",), ("T191",), ("T023",), ("T121", "T047"), ()]:
        assert restored.threshold_for(tuis) == table.threshold_for(tuis)
        assert restored.source_for(tuis) == table.source_for(tuis)


# --------------------------------------------------------------------------- bundle
def _bundle_inputs(n_mentions: int = 300, per_mention: int = 6, seed: int = 9):
    logits, labels = _miscalibrated(n_mentions * per_mention, temperature=2.5, seed=seed)
    mention_ids = np.array([f"PMID{i // per_mention}_m" for i in range(len(logits))])
    tuis = [("T047",), ("T121",), ("T191",), ("T023",), ("T047", "T121"), ("T109",)]
    types = [tuis[i % len(tuis)] for i in range(len(logits))]
    return logits, labels, mention_ids, types


KW = dict(
    methods=("temperature", "platt", "isotonic"),
    folds=4,
    selection_metric="brier",
    threshold_objective="f1",
    precision_target=0.95,
    min_examples=50,
    high_confidence_precision=0.9,
)


def test_fit_calibration_save_load_round_trip(tmp_path):
    logits, labels, mention_ids, types = _bundle_inputs()
    cal = fit_calibration(logits, labels, mention_ids, types, **KW, metadata={"model_dir": "m/best"})
    assert cal.method in {"temperature", "platt", "isotonic"}
    assert set(cal.cv_report) == {"temperature", "platt", "isotonic"}
    assert cal.metadata["n_pairs"] == len(logits) and cal.metadata["n_mentions"] == 300
    assert cal.metadata["model_dir"] == "m/best"
    assert cal.metadata["fit_calibrated"]["ece"] < cal.metadata["fit_uncalibrated"]["ece"]

    path = cal.save(tmp_path)  # a directory gets the default file name
    assert path == tmp_path / CALIBRATION_FILENAME and path.stat().st_size < 100_000
    loaded = Calibration.load(tmp_path)
    probe = np.concatenate([logits, np.linspace(-40, 40, 161)])
    np.testing.assert_array_equal(loaded.probabilities(probe), cal.probabilities(probe))
    assert loaded.high_threshold == cal.high_threshold
    for tuis in set(types) | {("T999",)}:
        assert loaded.threshold_for(tuis) == cal.threshold_for(tuis)
    assert loaded.to_dict() == json.loads(json.dumps(cal.to_dict()))


@pytest.mark.parametrize("method", ["temperature", "platt", "isotonic"])
def test_bundle_round_trip_for_each_method(tmp_path, method):
    logits, labels, mention_ids, types = _bundle_inputs(n_mentions=120, seed=10)
    cal = fit_calibration(logits, labels, mention_ids, types, **{**KW, "methods": (method,)})
    assert cal.method == method
    loaded = Calibration.load(cal.save(tmp_path / "model" / CALIBRATION_FILENAME))
    np.testing.assert_array_equal(loaded.probabilities(logits), cal.probabilities(logits))


def test_high_threshold_and_tiers():
    logits, labels, mention_ids, types = _bundle_inputs()
    cal = fit_calibration(logits, labels, mention_ids, types, **KW)
    probs = cal.probabilities(logits)
    assert cal.high_threshold is not None
    assert _precision(labels, probs, cal.high_threshold) >= 0.9
    lower = np.unique(probs[probs < cal.high_threshold])
    assert all(_precision(labels, probs, s) < 0.9 for s in lower)
    t = cal.threshold_for(("T047",))
    assert cal.tier(max(cal.high_threshold, t), ("T047",)) == "high"
    if t < cal.high_threshold:
        assert cal.tier((t + cal.high_threshold) / 2, ("T047",)) == "medium"
    assert cal.tier(t - 1e-6, ("T047",)) == "low"
    tiers = cal.tiers(probs, types)
    assert tiers == [cal.tier(p, tuis) for p, tuis in zip(probs, types, strict=True)]
    assert {"high", "low"} <= set(tiers)


def test_unreachable_high_precision_gives_no_high_tier():
    logits, labels, mention_ids, types = _bundle_inputs(n_mentions=100, seed=11)
    order = np.argsort(-logits)
    labels = np.empty_like(labels)
    labels[order] = np.arange(len(labels)) % 2  # alternating down the ranking, top one negative: precision <= 0.5
    cal = fit_calibration(logits, labels, mention_ids, types, **{**KW, "high_confidence_precision": 0.99})
    assert cal.high_threshold is None
    assert cal.tier(1.0, ("T047",)) in {"medium", "low"}
    assert "high" not in cal.tiers(cal.probabilities(logits), types)


def test_load_errors(tmp_path):
    with pytest.raises(MissingInputError):
        Calibration.load(tmp_path / "nothing")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputFormatError, match="not valid JSON"):
        Calibration.load(bad)
    bad.write_text('{"format": "something-else"}', encoding="utf-8")
    with pytest.raises(InputFormatError, match="unknown calibration format"):
        Calibration.load(bad)
