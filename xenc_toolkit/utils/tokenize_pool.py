"""Tokenisation of large name lists in worker processes.

The Rust tokenizer encodes in parallel, but turning its encodings into Python lists holds the
GIL, and for millions of short names that part, not the model, limits encoding speed. For large
inputs :class:`TokenizerPool` tokenises chunks in worker processes (``spawn``: nothing of the
parent's CUDA or thread state is inherited) that load only ``tokenizers`` and numpy and send
back padded int32 arrays. This module, and the packages above it (``xenc_toolkit``,
``xenc_toolkit.utils``), import nothing heavy, so a worker starts in well under a second: a
worker imports the module its function lives in, and a module under ``xenc_toolkit.retrieval`` would
import torch and transformers in every worker first.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np

_WORKER_TOKENIZER = None


def padded_ids(ids: Sequence[Sequence[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded int32 ids [n, longest] and the lengths, without a Python loop over tokens."""
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    width = int(lengths.max()) if len(ids) else 0
    padded = np.full((len(ids), width), pad_id, dtype=np.int32)
    padded[np.arange(width)[None, :] < lengths[:, None]] = np.fromiter(
        itertools.chain.from_iterable(ids), dtype=np.int32, count=int(lengths.sum())
    )
    return padded, lengths


def _init(tokenizer_json: str, threads: int) -> None:
    global _WORKER_TOKENIZER
    import os

    # each worker's Rust thread pool gets its share of the CPUs (set before tokenizers starts it):
    # by default every worker would start one thread per CPU, and they would fight over them
    os.environ.setdefault("RAYON_NUM_THREADS", str(threads))
    from tokenizers import Tokenizer

    _WORKER_TOKENIZER = Tokenizer.from_str(tokenizer_json)


def token_ids(backend, texts: list[str]) -> list[list[int]]:
    """Token ids (special tokens included) of ``texts`` from a Rust tokenizer, without offsets when it can."""
    encode = getattr(backend, "encode_batch_fast", None) or backend.encode_batch
    return [e.ids for e in encode(texts, add_special_tokens=True)]


def _encode(texts: list[str], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    return padded_ids(token_ids(_WORKER_TOKENIZER, texts), pad_id)


class TokenizerPool:
    """``processes`` workers, each with a copy of a configured Rust tokenizer (truncation included)."""

    def __init__(self, backend, pad_id: int, processes: int):
        import os

        self.pad_id = pad_id
        self.processes = processes
        threads = max(1, (os.cpu_count() or 1) // processes)
        self._executor = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init,
            initargs=(backend.to_str(), threads),
        )

    def map_chunks(self, texts: Sequence[str], chunk_size: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """``(start, ids, lengths)`` per chunk, in input order, with at most 2 x processes chunks in flight."""
        pending: deque = deque()
        starts = iter(range(0, len(texts), chunk_size))
        for start in itertools.islice(starts, 2 * self.processes):
            pending.append(
                (start, self._executor.submit(_encode, list(texts[start : start + chunk_size]), self.pad_id))
            )
        while pending:
            start, future = pending.popleft()
            ids, lengths = future.result()
            following = next(starts, None)
            if following is not None:
                chunk = list(texts[following : following + chunk_size])
                pending.append((following, self._executor.submit(_encode, chunk, self.pad_id)))
            yield start, ids, lengths

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> TokenizerPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
