"""Evaluation: metrics, training-time evaluators, plots, reports and the ``xenc evaluate`` run."""

from .corpus_stats import corpus_stats, render_stats
from .evaluators import LinkingEvaluator
from .metrics import calibration_errors, grouped_linking_metrics, linking_metrics, pair_metrics, stage3_metrics

__all__ = [
    "LinkingEvaluator",
    "calibration_errors",
    "corpus_stats",
    "grouped_linking_metrics",
    "linking_metrics",
    "pair_metrics",
    "render_stats",
    "stage3_metrics",
]
