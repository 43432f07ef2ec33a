"""Dense retrieval: the name/mention encoder, search backends and the on-disk index."""

from .dense_index import DenseIndex
from .encoder import NameEncoder, resolve_device, resolve_devices, resolve_dtype
from .search import FaissSearcher, TorchExactSearcher, default_nlist, faiss_has_gpu

__all__ = [
    "DenseIndex",
    "FaissSearcher",
    "NameEncoder",
    "TorchExactSearcher",
    "default_nlist",
    "faiss_has_gpu",
    "resolve_device",
    "resolve_devices",
    "resolve_dtype",
]
