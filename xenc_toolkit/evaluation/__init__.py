"""Evaluation: metrics, training-time evaluators, plots, reports and the ``xenc evaluate`` run.

Names are imported on first use (``from xenc_toolkit.evaluation import X`` works as before), so that
importing one submodule, or the CLI, does not load sentence-transformers for the evaluators.
"""

from __future__ import annotations

from ..utils.lazy import lazy_exports

_WHERE = {
    "LinkingEvaluator": "evaluators",
    "calibration_errors": "metrics",
    "corpus_stats": "corpus_stats",
    "grouped_linking_metrics": "metrics",
    "linking_metrics": "metrics",
    "pair_metrics": "metrics",
    "render_stats": "corpus_stats",
    "stage3_metrics": "metrics",
}

__all__ = sorted(_WHERE)

__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
