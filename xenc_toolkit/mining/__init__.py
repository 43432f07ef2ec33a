"""Training pairs: negative sampling, pair and candidate-list datasets, synonym queries, cross-fitted folds."""

from .negatives import NegativeSampler
from .pairs import Miner, MiningResult, load_candidate_lists, load_pairs, save_mining, to_input_examples

__all__ = [
    "Miner",
    "MiningResult",
    "NegativeSampler",
    "load_candidate_lists",
    "load_pairs",
    "save_mining",
    "to_input_examples",
]
