"""Training: the sentence-transformers CrossEncoderTrainer with a fast data path, losses, and ``xenc train``.

Names are imported on first use (``from xenc_toolkit.training import X`` works as before), so that
importing one submodule, or the CLI, does not load every dependency of the package.
"""

from __future__ import annotations

import importlib
from typing import Any

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


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
