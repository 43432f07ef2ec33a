"""Retrieval: the name/mention encoder, search backends, the on-disk dense index, TF-IDF and candidate generation."""

from .candidate_generator import CandidateGenerator
from .candidates import CandidateLists
from .dense_index import DenseIndex
from .encoder import NameEncoder, resolve_device, resolve_devices, resolve_dtype
from .search import FaissSearcher, TorchExactSearcher, default_nlist, faiss_has_gpu
from .tfidf import TfidfIndex

__all__ = [
    "CandidateGenerator",
    "CandidateLists",
    "DenseIndex",
    "FaissSearcher",
    "NameEncoder",
    "TfidfIndex",
    "TorchExactSearcher",
    "default_nlist",
    "faiss_has_gpu",
    "resolve_device",
    "resolve_devices",
    "resolve_dtype",
]
