"""Nearest-neighbour search over L2-normalised name embeddings (inner product = cosine).

Backends:

* :class:`TorchExactSearcher` — exact top-k by chunked matrix products on a GPU
  (fp16 embeddings; a shortlist is re-scored in fp32, so near-ties are ordered as a
  float32 Flat index orders them). Used on GPU when faiss-gpu is not installed.
* :class:`FaissSearcher` — faiss ``IndexFlatIP`` (exact), ``IndexIVFFlat`` (nlist
  lists, ``nprobe`` searched) or ``IndexHNSWFlat`` for large KBs on CPU; moved to
  the GPU when faiss-gpu is installed (Flat / IVF).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from ..errors import XencError
from ..utils.progress import progress_bar


class Searcher(Protocol):
    n: int

    def search(self, queries: np.ndarray | torch.Tensor, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores float32 [q, k], ids int64 [q, k]) sorted by descending score."""
        ...


def _faiss():
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - faiss-cpu is a dependency
        raise XencError("faiss is not installed: pip install faiss-cpu (or faiss-gpu, see README)") from exc
    return faiss


def faiss_has_gpu() -> bool:
    try:
        faiss = _faiss()
    except XencError:
        return False
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def default_nlist(n: int) -> int:
    """About 4*sqrt(n) lists, at least 1 and at most n/39 (faiss wants >= 39 points per list)."""
    return max(1, min(int(4 * math.sqrt(n)), n // 39 or 1))


class TorchExactSearcher:
    """Exact inner-product top-k on a torch device, in query chunks that bound memory.

    On a GPU the embeddings are held in fp16 and the scores of all names come from fp16 matrix
    products. Half-precision scores near 1.0 are coarse (fp16 steps by ~0.0005 there, bf16 by
    ~0.004), and KB names are often near-duplicates, so the top ``k + rescore_extra`` are
    re-scored in fp32 and re-sorted: the returned scores and order are float32 ones.
    """

    def __init__(
        self,
        embeddings: np.ndarray | torch.Tensor,
        device: str | torch.device = "cuda",
        dtype=None,
        max_scores_bytes: int = 2 << 30,
        rescore_extra: int = 32,
    ):
        device = torch.device(device)
        if dtype is None:
            dtype = torch.float16 if device.type == "cuda" else torch.float32
        if isinstance(embeddings, np.ndarray):
            embeddings = torch.from_numpy(np.ascontiguousarray(embeddings))
        self.matrix = embeddings.to(device=device, dtype=dtype)
        self.device = device
        self.dtype = dtype
        self.rescore_extra = rescore_extra if dtype != torch.float32 else 0
        self.n = int(self.matrix.shape[0])
        element = torch.finfo(dtype).bits // 8
        self.chunk = max(1, int(max_scores_bytes // max(1, self.n * element)))

    @torch.inference_mode()
    def search(self, queries, k: int, progress: bool = False):
        if isinstance(queries, np.ndarray):
            queries = torch.from_numpy(np.ascontiguousarray(queries))
        k = min(k, self.n)
        shortlist = min(self.n, k + self.rescore_extra)
        q = queries.shape[0]
        scores_out = torch.empty((q, k), dtype=torch.float32, device=self.device)
        ids_out = torch.empty((q, k), dtype=torch.int64, device=self.device)
        with progress_bar("searching", total=q if progress else None) as bar:
            for start in range(0, q, self.chunk):
                block = queries[start : start + self.chunk].to(self.device, non_blocking=True)
                scores = block.to(self.dtype) @ self.matrix.T
                top = torch.topk(scores, shortlist, dim=1, largest=True, sorted=True)
                values, indices = top.values.float(), top.indices
                if self.dtype != torch.float32:  # half-precision scores: re-score the shortlist in fp32
                    values, indices = self._rescore(block.float(), indices)
                scores_out[start : start + len(block)] = values[:, :k]
                ids_out[start : start + len(block)] = indices[:, :k]
                bar.advance(len(block))
        return scores_out.cpu().numpy(), ids_out.cpu().numpy()

    def _rescore(self, block: torch.Tensor, indices: torch.Tensor, rows: int = 1024):
        """fp32 scores of each query's shortlist, sorted (ties keep the lower name row first)."""
        values = torch.empty(indices.shape, dtype=torch.float32, device=self.device)
        for start in range(0, len(block), rows):
            ids = indices[start : start + rows]
            vectors = self.matrix[ids].float()  # [rows, shortlist, dim]
            values[start : start + rows] = torch.bmm(vectors, block[start : start + rows].unsqueeze(-1)).squeeze(-1)
        # stable order: by score, then by name row, as a float32 Flat index returns them
        indices, by_row = torch.sort(indices, dim=1)
        values = torch.gather(values, 1, by_row)
        values, order = torch.sort(values, dim=1, descending=True, stable=True)
        return values, torch.gather(indices, 1, order)


class FaissSearcher:
    """A faiss index (Flat / IVF / HNSW) over float32 embeddings."""

    def __init__(self, index, index_type: str, nprobe: int = 32, ef_search: int = 128, use_gpu: bool = False):
        faiss = _faiss()
        self.index_type = index_type
        self.cpu_index = index
        if index_type == "ivf":
            index.nprobe = nprobe
        elif index_type == "hnsw":
            index.hnsw.efSearch = ef_search
        if use_gpu and index_type in ("flat", "ivf"):
            self._resources = faiss.StandardGpuResources()
            index = faiss.index_cpu_to_gpu(self._resources, 0, index)
        self.index = index
        self.n = int(index.ntotal)

    @classmethod
    def build(
        cls,
        embeddings: np.ndarray,
        index_type: str = "flat",
        nlist: int | None = None,
        nprobe: int = 32,
        hnsw_m: int = 32,
        ef_construction: int = 80,
        ef_search: int = 128,
        use_gpu: bool = False,
        seed: int = 42,
    ) -> FaissSearcher:
        faiss = _faiss()
        x = np.ascontiguousarray(embeddings, dtype=np.float32)
        n, dim = x.shape
        if index_type == "flat":
            index = faiss.IndexFlatIP(dim)
            index.add(x)
        elif index_type == "ivf":
            nlist = nlist or default_nlist(n)
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            rng = np.random.default_rng(seed)
            train = x if n <= 256 * nlist else x[rng.choice(n, 256 * nlist, replace=False)]
            index.train(train)
            with progress_bar("adding to IVF index", total=n) as bar:
                for start in range(0, n, 1 << 18):
                    index.add(x[start : start + (1 << 18)])
                    bar.advance(min(1 << 18, n - start))
        elif index_type == "hnsw":
            index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
            with progress_bar("building HNSW graph", total=n) as bar:
                for start in range(0, n, 1 << 16):
                    index.add(x[start : start + (1 << 16)])
                    bar.advance(min(1 << 16, n - start))
        else:
            raise XencError(f"unknown index type {index_type!r} (expected flat, ivf or hnsw)")
        return cls(index, index_type, nprobe=nprobe, ef_search=ef_search, use_gpu=use_gpu)

    def save(self, path: str | Path) -> None:
        _faiss().write_index(self.cpu_index, str(path))

    @classmethod
    def load(cls, path: str | Path, index_type: str, nprobe: int = 32, ef_search: int = 128, use_gpu: bool = False):
        return cls(_faiss().read_index(str(path)), index_type, nprobe=nprobe, ef_search=ef_search, use_gpu=use_gpu)

    def search(self, queries, k: int, progress: bool = False):
        if isinstance(queries, torch.Tensor):
            queries = queries.float().cpu().numpy()
        x = np.ascontiguousarray(queries, dtype=np.float32)
        k = min(k, self.n)
        scores = np.empty((len(x), k), dtype=np.float32)
        ids = np.empty((len(x), k), dtype=np.int64)
        step = 8192
        with progress_bar("searching", total=len(x) if progress else None) as bar:
            for start in range(0, len(x), step):
                s, i = self.index.search(x[start : start + step], k)
                scores[start : start + step] = s
                ids[start : start + step] = i
                bar.advance(len(x[start : start + step]))
        return scores, ids
