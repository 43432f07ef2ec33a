"""``xenc evaluate``: rerank held-out candidate lists and score mined pairs; write results, plots, report.

``evaluation_results.json`` (a contract other code reads)::

    overall_metrics   pair metrics on the mined evaluation pairs at the decision threshold:
                      accuracy, precision, recall, f1, specificity, roc_auc, pr_auc, ece, mce, brier_score, ...
    linking_metrics   reranked: acc@1, recall@5, recall@<depth>, mrr, plus retrieval_acc@1, n_mentions,
                      n_gold_in_candidates, n_gold_not_in_kb, ...
    retrieval_metrics the same for the retrieval order (the baseline the reranker must beat)
    stage3_metrics    high_confidence_pct, mean_top_score, mean_margin, threshold
    error_causes      per ranking (reported, reranker_alone): errors by cause (evaluation/error_causes.py),
                      wrong_where_retrieval_right, right_where_retrieval_wrong
    per_type          {TUI: linking fields + retrieval_*}; per_group: {semantic group: ...}
    calibration, counts, config, model, plots
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..calibration import load_model_calibration
from ..calibration.confidence import features_of_lists, load_link_confidence
from ..config import EvaluateConfig, dump_config
from ..errors import XencError
from ..evaluation import plots as P
from ..evaluation.error_causes import error_causes
from ..evaluation.metrics import (
    calibration_errors,
    grouped_linking_metrics,
    linking_metrics,
    pair_metrics,
    stage3_metrics,
)
from ..evaluation.report import write_report
from ..evaluation.selective import nil_metrics, selective_metrics
from ..kb.semantic_types import load_semantic_network
from ..mining.pairs import load_candidate_lists, load_pairs
from ..reranker.model_dir import (
    load_candidate_config,
    load_confidence_data,
    load_cross_encoder,
    load_fusion,
)
from ..reranker.ranking import rerank_ranks, top_two
from ..reranker.score_fusion import fuse_scores
from ..reranker.scorer import PairScorer
from ..utils.io import atomic_write_json
from ..utils.progress import log
from .artefacts import check_model_matches_pairs


def evaluate(cfg: EvaluateConfig, model=None) -> dict[str, Any]:
    """Evaluate a trained CrossEncoder on a mined split; returns the results dict (also written to disk)."""
    model_dir, pairs_dir, out = Path(cfg.model_dir), Path(cfg.pairs_dir), Path(cfg.output_dir)
    check_model_matches_pairs(model_dir, pairs_dir, cfg.allow_mismatch)
    if cfg.split == "auto":
        available = set(load_candidate_lists(pairs_dir).keys())
        cfg = cfg.model_copy(update={"split": "test" if "test" in available else "dev"})
    model = model or load_cross_encoder(model_dir)
    lists = load_candidate_lists(pairs_dir, cfg.split)
    pairs = load_pairs(pairs_dir)
    if cfg.split not in pairs:
        raise XencError(f"{pairs_dir}: no pairs for split {cfg.split!r} (available: {', '.join(pairs.keys())})")
    pair_ds = pairs[cfg.split]
    calibration = load_model_calibration(model_dir, cfg.calibration_file, allow_mismatch=cfg.allow_mismatch)

    queries = lists["query"]
    cand_texts = lists["candidate_texts"]
    labels = [np.asarray(y, dtype=np.int64) for y in lists["labels"]]
    sizes = [len(c) for c in cand_texts]
    flat_q = [q for q, n in zip(queries, sizes, strict=True) for _ in range(n)]
    flat_c = [c for cands in cand_texts for c in cands]
    n_list_pairs = len(flat_q)
    scorer = PairScorer(model, batch_size=cfg.batch_size, precision=cfg.precision, max_length=cfg.max_length)
    log(f"scoring {len(queries):,} candidate lists ({n_list_pairs:,} pairs) and {len(pair_ds):,} mined pairs")
    logits = scorer.logits(flat_q + list(pair_ds["query"]), flat_c + list(pair_ds["candidate"]))
    list_logits, pair_logits = logits[:n_list_pairs], logits[n_list_pairs:]

    def to_probs(x: np.ndarray) -> np.ndarray:
        return calibration.probabilities(x) if calibration else 1.0 / (1.0 + np.exp(-x.astype(np.float64)))

    list_probs = to_probs(list_logits)
    bounds = np.cumsum([0, *sizes])
    prob_lists = [list_probs[bounds[i] : bounds[i + 1]] for i in range(len(sizes))]
    logit_lists = [list_logits[bounds[i] : bounds[i + 1]] for i in range(len(sizes))]

    depth = max(max(sizes, default=1), 1)
    gold_in_kb = np.asarray(lists["gold_in_kb"], dtype=bool)
    # the reranker alone ranks by raw logit: calibration is monotone, but isotonic calibration maps
    # ranges of logits to one probability, and ranking by those ties would fall back to retrieval order
    reranker_ranks = rerank_ranks(logit_lists, labels)
    fusion = load_fusion(model_dir, load_candidate_config(model_dir)) if cfg.fusion == "auto" else None
    if fusion is not None:  # rank by logit + w x retrieval score (w fitted on a held-out split)
        fused = [
            fuse_scores(x, r, fusion["weight"]) for x, r in zip(logit_lists, lists["retrieval_scores"], strict=True)
        ]
        ranks = rerank_ranks(fused, labels)
    else:
        ranks = reranker_ranks
    retrieval_ranks = np.asarray(lists["gold_rank"], dtype=np.int64)
    ks = (1, 5, 10)
    reranked = linking_metrics(ranks, depth, ks, gold_in_kb=gold_in_kb)
    retrieval = linking_metrics(retrieval_ranks, depth, ks, gold_in_kb=gold_in_kb)
    reranked["retrieval_acc@1"] = retrieval["acc@1"]
    reranked["gain_acc@1"] = (reranked["acc@1"] or 0.0) - (retrieval["acc@1"] or 0.0)
    reranked["reranker_only_acc@1"] = linking_metrics(reranker_ranks, depth, ks, gold_in_kb=gold_in_kb)["acc@1"]
    reranked["fusion_weight"] = fusion["weight"] if fusion is not None else None

    # with fusion, the chosen candidate is the fused top: its probability, and that of the fused runner-up
    _, top, second = top_two(prob_lists, fused if fusion is not None else logit_lists)
    threshold = cfg.threshold
    if threshold is None:
        threshold = calibration.thresholds.global_threshold if calibration else 0.5
    stage3 = stage3_metrics(top, second, cfg.high_confidence)

    pair_labels = np.asarray(pair_ds["label"], dtype=np.int64)
    pair_probs = to_probs(pair_logits)
    overall = pair_metrics(pair_labels, pair_probs, threshold=threshold)
    calib = calibration_errors(pair_labels, pair_probs, n_bins=cfg.n_bins)
    overall.update({"ece": calib["ece"], "mce": calib["mce"]})
    kinds = np.asarray(pair_ds["kind"])
    per_kind = {}
    for kind in sorted(set(kinds.tolist())):
        mask = kinds == kind
        per_kind[kind] = {
            "n_pairs": int(mask.sum()),
            "mean_probability": float(pair_probs[mask].mean()),
            "accuracy": float(((pair_probs[mask] >= threshold) == (pair_labels[mask] == 1)).mean()),
        }

    network = load_semantic_network()
    types = [tuple(t) for t in lists["gold_types"]]
    groups = [network.groups_of(t) for t in types]
    per_type = grouped_linking_metrics(ranks, retrieval_ranks, types, depth, ks)
    per_group = grouped_linking_metrics(ranks, retrieval_ranks, groups, depth, ks)
    for key, entry in per_type.items():
        entry["name"] = network.type_name(key)
    for key, entry in per_group.items():
        entry["name"] = network.group_names.get(key, key)

    causes = error_causes(
        lists["mention"],
        lists["gold_ids"],
        gold_in_kb,
        lists["candidate_names"],
        labels,
        {"reported": fused if fusion is not None else logit_lists, "reranker_alone": logit_lists},
        retrieval_ranks,
    )
    selective, curves = _selective(
        cfg, model_dir, lists, logit_lists, fusion, ranks, retrieval_ranks, gold_in_kb, calibration
    )
    out.mkdir(parents=True, exist_ok=True)
    plot_paths = {
        "risk_coverage": P.risk_coverage_plot(curves, out / "risk_coverage.png"),
        "reliability_diagram": P.reliability_diagram(
            pair_labels, pair_probs, out / "reliability_diagram.png", n_bins=cfg.n_bins
        ),
        "pr_curve": P.pr_curve(pair_labels, pair_probs, out / "pr_curve.png"),
        "roc_curve": P.roc_curve(pair_labels, pair_probs, out / "roc_curve.png"),
        "score_histograms": P.score_histograms(pair_labels, pair_probs, out / "score_histograms.png"),
        "group_accuracy": P.group_accuracy_bars(per_group, out / "acc_per_group.png"),
    }
    results = {
        "overall_metrics": overall,
        "linking_metrics": reranked,
        "retrieval_metrics": retrieval,
        "stage3_metrics": stage3,
        "selective": selective,
        "per_type": per_type,
        "per_group": per_group,
        "per_negative_kind": per_kind,
        "error_causes": causes,
        "calibration": {
            "method": calibration.method if calibration else "none (sigmoid)",
            "decision_threshold": threshold,
            "bins": calib["bins"],
        },
        "counts": {
            "mentions": len(queries),
            "candidate_pairs": n_list_pairs,
            "mined_pairs": len(pair_ds),
            "gold_not_in_kb": int((~gold_in_kb).sum()),
            "gold_not_in_candidates": int((ranks < 0).sum()),
            "candidate_depth": depth,
            # lists whose chosen candidate's probability equals the runner-up's (a calibration plateau):
            # they are ranked by logit (or fused score), which their probabilities cannot tell apart
            "tied_top_probabilities": int(
                sum(1 for t, s, n in zip(top, second, sizes, strict=True) if n > 1 and t == s)
            ),
        },
        "model": str(model_dir),
        "split": cfg.split,
        "config": dump_config(cfg),
        "plots": {k: Path(v).name for k, v in plot_paths.items()},
    }
    atomic_write_json(out / "evaluation_results.json", results)
    write_report(results, out, plot_paths, html=cfg.html)
    log(f"results written to {out}")
    return results


def _selective(cfg, model_dir: Path, lists, logit_lists, fusion, ranks, retrieval_ranks, gold_in_kb, calibration):
    """P(top-1 correct) of every evaluated mention, and the selective-linking and NIL figures beside the
    confidences a user has without the reranker (retrieval's top score and top-1 margin)."""
    confidence = load_link_confidence(model_dir)
    weight = fusion["weight"] if fusion is not None else None
    features, picks = features_of_lists(logit_lists, lists["retrieval_scores"], weight)
    correct = np.asarray(ranks) == 0
    if confidence is not None:
        probability = confidence.probabilities(features)
    else:  # no `xenc calibrate` yet: the reranker's softmax share of its pick, uncalibrated
        probability = features[:, 0] if len(features) else np.zeros(0)
    retrieval_correct = np.asarray(retrieval_ranks) == 0
    scores = [np.nan_to_num(np.asarray(r, dtype=np.float64), nan=-1.0) for r in lists["retrieval_scores"]]
    retrieval_top = np.asarray([s[0] if len(s) else -1.0 for s in scores])
    retrieval_margin = np.asarray([s[0] - s[1] if len(s) > 1 else 1.0 for s in scores])
    xenc = selective_metrics(probability, correct)
    by_score = selective_metrics(retrieval_top, retrieval_correct)
    by_margin = selective_metrics(retrieval_margin, retrieval_correct)
    nil = nil_metrics(probability, ~gold_in_kb, confidence.nil if confidence is not None else 0.0)
    fit_split = (load_confidence_data(model_dir) or {}).get("fit_on", {}).get("split")
    pair_split = calibration.metadata.get("split") if calibration is not None else None
    in_sample = cfg.split in {s for s in (fit_split, pair_split) if s}
    tiers = {}
    if confidence is not None:
        network = load_semantic_network()
        names = [tuple(t) for t in lists["candidate_types"]]
        for i, p in enumerate(probability.tolist()):
            top = int(picks[i])
            top_groups = sorted(network.groups_of(names[i][top])) if top >= 0 else []
            tier = confidence.tier(p, top_groups[0] if top_groups else None)
            entry = tiers.setdefault(tier, {"mentions": 0, "correct": 0})
            entry["mentions"] += 1
            entry["correct"] += int(correct[i])
        for entry in tiers.values():
            entry["share"] = entry["mentions"] / max(1, len(probability))
            entry["precision"] = entry["correct"] / max(1, entry["mentions"])
    ece = calibration_errors(correct.astype(np.int64), probability, n_bins=cfg.n_bins) if len(correct) else None
    selective = {
        "confidence": confidence.model.method if confidence is not None else "none (uncalibrated softmax share)",
        "fit_on_split": fit_split,
        "in_sample": bool(in_sample),
        "ece_top1": ece["ece"] if ece else None,
        "mce_top1": ece["mce"] if ece else None,
        "aurc_xenc": xenc["aurc"],
        "aurc_retrieval_score": by_score["aurc"],
        "aurc_retrieval_margin": by_margin["aurc"],
        "aurc_best_retrieval_confidence": min(
            (a for a in (by_score["aurc"], by_margin["aurc"]) if a is not None), default=None
        ),
        **{k: v for k, v in xenc.items() if k != "aurc"},
        "retrieval": {"score": by_score, "margin": by_margin},
        "nil_auroc": nil["nil_auroc"],
        "nil_f1": nil["nil_f1"],
        "nil": nil,
        "tiers": tiers,
        "high_threshold": confidence.high if confidence is not None else None,
        "mean_probability": float(probability.mean()) if len(probability) else None,
    }
    curves = {
        "xenc P(top-1 correct)": (probability, correct),
        "retrieval top score": (retrieval_top, retrieval_correct),
        "retrieval top-1 margin": (retrieval_margin, retrieval_correct),
    }
    return selective, curves
