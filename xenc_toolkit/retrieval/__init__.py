"""Retrieval: the name/mention encoder, search backends, the on-disk dense index, TF-IDF and candidate generation.

Names are imported on first use (``from xenc_toolkit.retrieval import X`` works as before), so that
importing one submodule, or the CLI, does not load every dependency of the package.
"""

from __future__ import annotations

from ..utils.lazy import lazy_exports

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

__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
