"""Evaluation: metrics, training-time evaluators, plots, reports and the ``xenc evaluate`` run."""

from .evaluators import LinkingEvaluator
from .metrics import calibration_errors, grouped_linking_metrics, linking_metrics, pair_metrics, stage3_metrics
from .ranking import gold_rank, rerank_ranks, top_two

__all__ = [
    "LinkingEvaluator",
    "calibration_errors",
    "gold_rank",
    "grouped_linking_metrics",
    "linking_metrics",
    "pair_metrics",
    "rerank_ranks",
    "stage3_metrics",
    "top_two",
]
