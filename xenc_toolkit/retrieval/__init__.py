"""Retrieval: the name/mention encoder, search backends, the on-disk dense index, TF-IDF and candidate generation.

Names are imported on first use (``from xenc_toolkit.retrieval import X`` works as before), so that
importing one submodule, or the CLI, does not load every dependency of the package.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "CandidateGenerator": "candidate_generator",
    "CandidateLists": "candidates",
    "DenseIndex": "dense_index",
    "FaissSearcher": "search",
    "NameEncoder": "encoder",
    "TfidfIndex": "tfidf",
    "TorchExactSearcher": "search",
    "default_nlist": "search",
    "faiss_has_gpu": "search",
    "resolve_device": "encoder",
    "resolve_devices": "encoder",
    "resolve_dtype": "encoder",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
