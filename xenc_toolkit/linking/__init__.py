"""Stage-3 inference: fast pair scoring and the :class:`Linker`."""

from .linker import Candidate, Linker, LinkResult
from .scorer import PairScorer, score_candidate_lists

__all__ = ["Candidate", "LinkResult", "Linker", "PairScorer", "score_candidate_lists"]
