"""Training: the sentence-transformers CrossEncoderTrainer with a fast data path, losses, and ``xenc train``."""

from .data import (
    LengthGroupedBatchSampler,
    PretokenizedListCollator,
    PretokenizedPairCollator,
    pretokenize_lists,
    pretokenize_pairs,
)
from .losses import ListwiseLambdaLoss, ListwiseSoftmaxLoss, WeightedBinaryCrossEntropyLoss
from .trainer import XencCrossEncoderTrainer

__all__ = [
    "LengthGroupedBatchSampler",
    "ListwiseLambdaLoss",
    "ListwiseSoftmaxLoss",
    "PretokenizedListCollator",
    "PretokenizedPairCollator",
    "WeightedBinaryCrossEntropyLoss",
    "XencCrossEncoderTrainer",
    "pretokenize_lists",
    "pretokenize_pairs",
]
