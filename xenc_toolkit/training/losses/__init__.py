"""Losses for CrossEncoder entity linking (one per file, as in sentence-transformers), registered in :data:`LOSSES`."""

from .lambda_listwise import ListwiseLambdaLoss
from .listwise_softmax import ListwiseSoftmaxLoss
from .registry import LOSSES
from .weighted_bce import WeightedBinaryCrossEntropyLoss

__all__ = ["LOSSES", "ListwiseLambdaLoss", "ListwiseSoftmaxLoss", "WeightedBinaryCrossEntropyLoss"]
