"""Losses for CrossEncoder entity linking (one per file, as in sentence-transformers)."""

from .lambda_listwise import ListwiseLambdaLoss
from .listwise_softmax import ListwiseSoftmaxLoss
from .weighted_bce import WeightedBinaryCrossEntropyLoss

__all__ = ["ListwiseLambdaLoss", "ListwiseSoftmaxLoss", "WeightedBinaryCrossEntropyLoss"]
