"""The reranker: query/candidate text formats, fast pair scoring, score fusion and the model directory."""

from .formatting import format_candidate, format_query
from .model_dir import (
    check_input_format,
    load_candidate_config,
    load_cross_encoder,
    load_fusion,
    load_input_format,
    save_fusion,
    save_input_format,
)
from .ranking import gold_rank, rerank_ranks, top_two
from .score_fusion import fit_fusion_weight, fuse_scores
from .scorer import PairScorer, score_candidate_lists

__all__ = [
    "PairScorer",
    "check_input_format",
    "fit_fusion_weight",
    "format_candidate",
    "format_query",
    "fuse_scores",
    "gold_rank",
    "load_candidate_config",
    "load_cross_encoder",
    "load_fusion",
    "load_input_format",
    "rerank_ranks",
    "save_fusion",
    "save_input_format",
    "score_candidate_lists",
    "top_two",
]
