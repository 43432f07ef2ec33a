"""``xenc calibrate``: fit calibration and per-type thresholds on a held-out split's candidate lists.

The pairs are every (mention, candidate) of the split's candidate lists — exactly the
distribution the Stage-3 linker scores — labelled 1 for the gold concept. The result
is saved in the model directory (:mod:`~xenc_toolkit.reranker.model_dir`); the model directory stays a
plain CrossEncoder directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..calibration.bundle import fit_calibration
from ..calibration.confidence import fit_link_confidence, list_features
from ..config import CalibrateConfig
from ..kb.semantic_types import load_semantic_network
from ..mining.pairs import load_candidate_lists
from ..reranker.model_dir import (
    calibration_file,
    load_candidate_config,
    load_cross_encoder,
    save_confidence,
    save_fusion,
)
from ..reranker.score_fusion import fit_fusion_weight
from ..reranker.scorer import PairScorer
from ..utils.progress import log
from .artefacts import calibration_provenance, check_model_matches_pairs


def calibration_split(cfg: CalibrateConfig) -> str:
    """``cfg.split``; ``auto``: ``validation`` when mined (held out from training), else ``dev``."""
    if cfg.split != "auto":
        return cfg.split
    available = set(load_candidate_lists(cfg.pairs_dir).keys())
    return "validation" if "validation" in available else "dev"


def calibrate(cfg: CalibrateConfig, model=None) -> dict[str, Any]:
    model_dir = Path(cfg.model_dir)
    check_model_matches_pairs(model_dir, Path(cfg.pairs_dir), cfg.allow_mismatch)
    cfg = cfg.model_copy(update={"split": calibration_split(cfg)})
    model = model or load_cross_encoder(model_dir)
    lists = load_candidate_lists(cfg.pairs_dir, cfg.split)
    flat_q, flat_c, labels, mention_ids, types = [], [], [], [], []
    for row in lists:
        for text, label, tuis in zip(row["candidate_texts"], row["labels"], row["candidate_types"], strict=True):
            flat_q.append(row["query"])
            flat_c.append(text)
            labels.append(label)
            mention_ids.append(row["mention_id"])
            types.append(tuple(tuis))
    log(f"scoring {len(flat_q):,} candidate pairs of {len(lists):,} {cfg.split} mentions")
    scorer = PairScorer(model, batch_size=cfg.batch_size, precision=cfg.precision)
    logits = scorer.logits(flat_q, flat_c)
    calibration = fit_calibration(
        logits,
        np.asarray(labels, dtype=np.int64),
        mention_ids,
        types,
        methods=cfg.methods,
        folds=cfg.folds,
        selection_metric=cfg.selection_metric,
        threshold_objective=cfg.threshold_objective,
        precision_target=cfg.precision_target,
        min_examples=cfg.min_examples,
        high_confidence_precision=cfg.high_confidence_precision,
        seed=cfg.seed,
        metadata={
            "model_dir": str(model_dir),
            "pairs_dir": str(cfg.pairs_dir),
            "split": cfg.split,
            "provenance": calibration_provenance(model_dir, Path(cfg.pairs_dir), cfg.split),
        },
    )
    path = Path(cfg.output_file) if cfg.output_file else calibration_file(model_dir)
    calibration.save(path)
    log(f"calibration ({calibration.method}) written to {path}")
    result = {"path": str(path), **calibration.to_dict()}
    weight = None
    if cfg.fit_fusion:
        result["fusion"] = _fit_fusion(cfg, model_dir, lists, logits)
        weight = result["fusion"]["weight"]
    result["confidence"] = _fit_confidence(cfg, model_dir, lists, logits, weight)
    return result


def _fit_fusion(cfg: CalibrateConfig, model_dir: Path, lists, logits: np.ndarray) -> dict[str, Any]:
    """Fit the reranker + retrieval score fusion weight on the same held-out lists."""
    sizes = [len(texts) for texts in lists["candidate_texts"]]
    bounds = np.cumsum([0, *sizes])
    logit_lists = [logits[bounds[i] : bounds[i + 1]] for i in range(len(sizes))]
    info = fit_fusion_weight(logit_lists, lists["retrieval_scores"], lists["labels"])
    info.update(
        {
            "fit_on": {"pairs_dir": str(cfg.pairs_dir), "split": cfg.split},
            "candidates": load_candidate_config(model_dir),
        }
    )
    save_fusion(model_dir, info)
    log(
        f"fusion weight {info['weight']:g} (acc@1 on {cfg.split}: {info['acc@1']:.4f}; "
        f"reranker alone {info['reranker_only_acc@1']:.4f})"
    )
    return info


def _fit_confidence(cfg: CalibrateConfig, model_dir: Path, lists, logits: np.ndarray, weight) -> dict[str, Any]:
    """Fit P(top-1 correct), its tiers and the NIL threshold on the same held-out lists."""
    sizes = [len(texts) for texts in lists["candidate_texts"]]
    bounds = np.cumsum([0, *sizes])
    logit_lists = [logits[bounds[i] : bounds[i + 1]] for i in range(len(sizes))]
    network = load_semantic_network()
    groups = []
    for logits_i, retrieval, types in zip(
        logit_lists, lists["retrieval_scores"], lists["candidate_types"], strict=True
    ):
        _, top = list_features(logits_i, retrieval, weight)
        top_groups = sorted(network.groups_of(tuple(types[top]))) if top >= 0 else []
        groups.append(top_groups[0] if top_groups else None)
    confidence = fit_link_confidence(
        logit_lists,
        lists["retrieval_scores"],
        lists["labels"],
        lists["gold_in_kb"],
        groups,
        weight=weight,
        precision_target=cfg.high_confidence_precision,
        min_examples=cfg.min_examples,
        nil_share=cfg.nil_simulation_share,
        folds=cfg.folds,
        seed=cfg.seed,
    )
    data = confidence.to_dict()
    data["fit_on"] = {"pairs_dir": str(cfg.pairs_dir), "split": cfg.split}
    save_confidence(model_dir, data)
    report = confidence.report
    log(
        f"link confidence ({confidence.model.method}, out-of-fold ECE {report['out_of_fold_ece']}): high >= "
        f"{confidence.high if confidence.high is not None else 'never'}, NIL below {confidence.nil:.3f}"
    )
    return data
