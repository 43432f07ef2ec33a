"""Reranker + retrieval score fusion: weight fitting, evaluate and Linker use, generator check."""

from __future__ import annotations

import json
import shutil

import numpy as np

from xenc_toolkit.config import CalibrateConfig, EvaluateConfig
from xenc_toolkit.reranker.model_dir import FUSION_FILE, load_fusion
from xenc_toolkit.reranker.score_fusion import fit_fusion_weight, fuse_scores


def _lists(rng, n=200, depth=6):
    """Retrieval ranks the gold first 70% of the time; a noisy reranker adds a weak, independent signal."""
    logits, retrieval, labels = [], [], []
    for _ in range(n):
        gold = 0 if rng.random() < 0.7 else int(rng.integers(1, depth))
        scores = np.sort(rng.uniform(0.5, 0.9, depth))[::-1].copy()
        y = np.zeros(depth, dtype=int)
        y[gold] = 1
        logits.append(rng.normal(0, 1, depth) + 0.5 * y)
        retrieval.append(scores)
        labels.append(y)
    return logits, retrieval, labels


def test_fit_prefers_retrieval_when_the_reranker_is_noise_and_the_reranker_when_it_is_right():
    rng = np.random.default_rng(0)
    logits, retrieval, labels = _lists(rng)
    noisy = fit_fusion_weight(logits, retrieval, labels)
    retrieval_acc = np.mean([y[0] for y in labels])
    assert noisy["weight"] > 1  # retrieval must dominate a near-random reranker
    assert noisy["acc@1"] >= retrieval_acc >= noisy["reranker_only_acc@1"]
    perfect = [10.0 * y.astype(float) for y in labels]
    exact = fit_fusion_weight(perfect, retrieval, labels)
    assert exact["weight"] == 0.0 and exact["acc@1"] == 1.0  # the smallest weight wins a tie
    assert exact["acc@1_by_weight"]["0"] == 1.0


def test_fuse_treats_missing_retrieval_scores_as_zero():
    assert np.allclose(fuse_scores(np.array([1.0, 2.0]), [np.nan, 0.5], 2.0), [1.0, 3.0])


def test_calibrate_fits_fusion_and_evaluate_uses_it(tmp_path, tiny_model, tiny_pipeline):
    from xenc_toolkit import api

    model_dir = shutil.copytree(tiny_model, tmp_path / "model")
    result = api.calibrate(
        CalibrateConfig(model_dir=model_dir, pairs_dir=tiny_pipeline["pairs"], split="dev", folds=3, min_examples=20)
    )
    saved = json.loads((model_dir / FUSION_FILE).read_text())
    assert saved["weight"] == result["fusion"]["weight"]
    assert saved["fit_on"]["split"] == "dev"
    on = api.evaluate(
        EvaluateConfig(model_dir=model_dir, pairs_dir=tiny_pipeline["pairs"], split="dev", output_dir=tmp_path / "a")
    )["linking_metrics"]
    off = api.evaluate(
        EvaluateConfig(
            model_dir=model_dir,
            pairs_dir=tiny_pipeline["pairs"],
            split="dev",
            output_dir=tmp_path / "b",
            fusion="off",
        )
    )["linking_metrics"]
    assert on["fusion_weight"] == saved["weight"] and off["fusion_weight"] is None
    assert on["reranker_only_acc@1"] == off["acc@1"] == off["reranker_only_acc@1"]
    # fitted on this very split, the fused acc@1 is the best of the grid, so at least the reranker's
    assert on["acc@1"] == saved["acc@1"] >= off["acc@1"]
    from sentence_transformers import CrossEncoder

    CrossEncoder(str(model_dir), device="cpu")  # still a plain CrossEncoder directory


def test_fusion_fitted_for_another_generator_is_ignored(tmp_path):
    info = {"weight": 3.0, "candidates": {"generator": "fusion", "fusion": "rrf", "rrf_k": 60, "alpha": 0.5}}
    (tmp_path / FUSION_FILE).write_text(json.dumps(info))
    assert load_fusion(tmp_path, {"generator": "fusion", "fusion": "rrf", "rrf_k": 60, "alpha": 0.5})["weight"] == 3.0
    assert load_fusion(tmp_path, {"generator": "dense", "fusion": "rrf", "rrf_k": 60, "alpha": 0.5}) is None
    assert load_fusion(tmp_path / "missing") is None


def test_linker_ranks_by_the_fused_score(tiny_model, tiny_pipeline):
    from xenc_toolkit.linking import Linker

    plain = Linker.from_pretrained(tiny_model, tiny_pipeline["index"], device="cpu")
    mentions = ["myocardial infarction", "aspirin", "hypertension", "breast cancer"]
    by_reranker = plain.link(mentions, top_k=5)
    plain.fusion_weight = 1e6  # retrieval decides, the reranker only breaks its ties
    by_retrieval = plain.link(mentions, top_k=5)
    lists = plain.generator.generate(mentions, mentions)["final"]
    for i, result in enumerate(by_retrieval):
        top_score = float(np.nanmax(lists.scores[i]))
        assert result.alternatives[0].retrieval_score == top_score
    assert [r.concept_id for r in by_reranker]  # both rankings produce results


def test_quickstart_end_to_end_with_a_tiny_model(tmp_path, tiny_st):
    """The quickstart's whole flow (tiny model, few mentions): outputs, splits kept apart, contract keys."""
    from sentence_transformers import CrossEncoder

    from xenc_toolkit import api
    from xenc_toolkit.config import QuickstartConfig
    from xenc_toolkit.mining.pairs import load_candidate_lists

    out = tmp_path / "qs"
    summary = api.quickstart(
        QuickstartConfig(
            output_dir=out, model=str(tiny_st), train_mentions=40, validation_mentions=30, eval_mentions=30, quiet=True
        )
    )
    for path in (
        "index/manifest.json",
        "pairs/dataset_dict.json",
        "model/config.json",
        "model/xenc_calibration.json",
        f"model/{FUSION_FILE}",
        "results/evaluation_results.json",
        "results/report.md",
        "results/reliability_diagram.png",
        "results/pr_curve.png",
        "results/roc_curve.png",
    ):
        assert (out / path).exists(), path
    lists = {s: load_candidate_lists(out / "pairs", s) for s in ("train", "validation", "test")}
    ids = {s: set(d["mention_id"]) for s, d in lists.items()}
    assert (
        not ids["train"] & ids["validation"] and not ids["train"] & ids["test"] and not ids["validation"] & ids["test"]
    )
    assert len(ids["test"]) == summary["n_eval_mentions"] == 30
    results = json.loads((out / "results" / "evaluation_results.json").read_text())
    assert results["split"] == "test"
    assert {"acc@1", "retrieval_acc@1", "reranker_only_acc@1", "fusion_weight"} <= set(results["linking_metrics"])
    assert summary["reranked_acc@1"] == results["linking_metrics"]["acc@1"]
    model = CrossEncoder(str(out / "model"), device="cpu")
    assert model.predict([("aspirin", "aspirin [TYPE] Pharmacologic Substance")]).shape == (1,)


def test_train_names_a_missing_dev_split(tmp_path, tiny_bert, tiny_pipeline):
    import pytest

    from xenc_toolkit.commands.train import train
    from xenc_toolkit.config import TrainConfig
    from xenc_toolkit.errors import XencError

    cfg = TrainConfig(
        pairs_dir=tiny_pipeline["pairs"], output_dir=tmp_path / "m", base_model=str(tiny_bert), dev_split="heldout"
    )
    with pytest.raises(XencError, match="no split 'heldout'"):
        train(cfg)


def test_grid_follows_the_retrieval_score_scale():
    """Reciprocal-rank-fusion scores differ by ~1e-4 between ranks: the grid must reach weights where they decide."""
    rng = np.random.default_rng(1)
    logits, _, labels = _lists(rng)
    rrf = [1.0 / (60 + np.arange(1, len(y) + 1)) for y in labels]  # retrieval order, RRF-sized scores
    fitted = fit_fusion_weight(logits, rrf, labels)
    retrieval_acc = np.mean([y[0] for y in labels])
    assert fitted["acc@1"] >= retrieval_acc  # a weight large enough for retrieval to lead is on the grid
    assert fitted["weight"] > 1e4
    fixed = fit_fusion_weight(logits, rrf, labels, grid=[0.0, 1.0, 100.0])
    assert fixed["acc@1"] < retrieval_acc  # a cosine-sized grid never lets RRF scores lead
