"""Training: the sentence-transformers CrossEncoderTrainer with a fast data path, losses, and ``xenc train``.

Names are imported on first use (``from xenc_toolkit.training import X`` works as before), so that
importing one submodule, or the CLI, does not load every dependency of the package.
"""

from __future__ import annotations

from ..utils.lazy import lazy_exports

_WHERE = {
    "LengthGroupedBatchSampler": "data",
    "ListwiseLambdaLoss": "losses",
    "ListwiseSoftmaxLoss": "losses",
    "PretokenizedListCollator": "data",
    "PretokenizedPairCollator": "data",
    "WeightedBinaryCrossEntropyLoss": "losses",
    "XencCrossEncoderTrainer": "trainer",
    "pretokenize_lists": "data",
    "pretokenize_pairs": "data",
}

__all__ = sorted(_WHERE)

__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
