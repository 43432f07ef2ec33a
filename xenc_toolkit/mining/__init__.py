"""Candidate generation, negative sampling and pair datasets."""

from .candidates import CandidateGenerator, CandidateLists, aggregate_to_concepts, fuse
from .formatting import format_candidate, format_query, load_input_format, save_input_format
from .negatives import NegativeSampler
from .pairs import Miner, MiningResult, load_candidate_lists, load_pairs, save_mining, to_input_examples
from .tfidf import TfidfIndex

__all__ = [
    "CandidateGenerator",
    "CandidateLists",
    "Miner",
    "MiningResult",
    "NegativeSampler",
    "TfidfIndex",
    "aggregate_to_concepts",
    "format_candidate",
    "format_query",
    "fuse",
    "load_candidate_lists",
    "load_input_format",
    "load_pairs",
    "save_input_format",
    "save_mining",
    "to_input_examples",
]
