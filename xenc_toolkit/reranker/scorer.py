"""Fast batched CrossEncoder scoring of (query, candidate) pairs.

Same function as ``CrossEncoder.predict`` (the same tokenisation: pairs,
``truncation="longest_first"``, the model's max length; the same model forward),
organised for throughput:

* identical pairs are scored once;
* each distinct query and candidate string is tokenised once
  (:class:`~xenc_toolkit.reranker.pair_tokenizer.PairTokenizer`), in large chunks on a
  background thread; pairs are sorted by length and batched under a token budget;
* the model runs in bf16 on GPU (``precision='auto'``), under ``inference_mode``;
* logits come back in input order; probabilities are ``sigmoid(logits)`` (or a
  calibration, see :mod:`xenc_toolkit.calibration`).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from ..utils.batching import token_budget_batches
from ..utils.devices import resolve_dtype
from ..utils.progress import progress_bar
from .pair_tokenizer import PairTokenizer


def dedupe_pairs(queries: Sequence[str], candidates: Sequence[str]) -> tuple[list[tuple[str, str]], np.ndarray]:
    """The distinct (query, candidate) pairs in first-seen order, and each input pair's position among them."""
    position: dict[tuple[str, str], int] = {}
    unique: list[tuple[str, str]] = []
    inverse = np.empty(len(queries), dtype=np.int64)
    for i, pair in enumerate(zip(queries, candidates, strict=True)):
        j = position.get(pair)
        if j is None:
            j = position[pair] = len(unique)
            unique.append(pair)
        inverse[i] = j
    return unique, inverse


def _columns(array: np.ndarray, rows: slice, width: int, pad: int) -> torch.Tensor:
    """``array[rows, :width]`` as int64, padded on the right with ``pad`` when ``array`` is narrower."""
    block = array[rows, :width].astype(np.int64)
    if block.shape[1] < width:
        block = np.pad(block, ((0, 0), (0, width - block.shape[1])), constant_values=pad)
    return torch.from_numpy(block)


class PairScorer:
    """Scores text pairs with a ``sentence_transformers.CrossEncoder``.

    Args:
        model: a loaded CrossEncoder (its device is used).
        batch_size: most pairs per forward pass.
        max_tokens: most padded tokens per forward pass (default ``batch_size * 64``).
        precision: 'auto' (bf16 on GPU, fp32 on CPU), 'fp32', 'fp16' or 'bf16' — autocast dtype.
        max_length: max tokens of a pair (default: the model's).
    """

    def __init__(
        self,
        model,
        batch_size: int = 256,
        max_tokens: int | None = None,
        precision: str = "auto",
        max_length: int | None = None,
        chunk_size: int = 16384,
    ):
        self.model = model
        self.device = model.device
        on_cpu = torch.device(self.device).type == "cpu"
        # on CPU, small batches keep length sorting effective (big ones only add padding)
        self.batch_size = min(batch_size, 128) if on_cpu else batch_size
        self.max_tokens = max_tokens or (4096 if on_cpu else batch_size * 64)
        self.dtype = resolve_dtype(precision, torch.device(self.device))
        self.max_length = max_length or model.max_length
        self.tokenizer = model.tokenizer
        self.pair_tokenizer = PairTokenizer(self.tokenizer, self.max_length)
        self.pad_token_id = self.tokenizer.pad_token_id or 0
        self.chunk_size = chunk_size

    def _tokenize(self, pairs: Sequence[tuple[str, str]]) -> dict[str, np.ndarray]:
        """Tokenise pairs as ``CrossEncoder.preprocess`` does, padded to the chunk's longest, longest first."""
        return self.pair_tokenizer([p[0] for p in pairs], [p[1] for p in pairs])

    def _chunks(self, pairs):
        out: queue.Queue = queue.Queue(maxsize=2)
        done = object()

        def work():
            try:
                for start in range(0, len(pairs), self.chunk_size):
                    out.put((start, self._tokenize(pairs[start : start + self.chunk_size])))
            except BaseException as exc:
                out.put(exc)
            out.put(done)

        threading.Thread(target=work, daemon=True).start()
        while (item := out.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item

    def batches(self, chunk: dict[str, np.ndarray]) -> Iterator[tuple[slice, dict[str, torch.Tensor]]]:
        """``(rows, features)`` of a tokenised chunk (rows longest first), as CPU tensors.

        Widths are rounded up to a multiple of 8: few distinct shapes (kernels are chosen and
        cached per shape) and tensor-core-friendly; the extra columns are masked padding.
        """
        lengths = chunk["lengths"]
        for rows, width in token_budget_batches(lengths, self.batch_size, self.max_tokens, multiple_of=8):
            mask = np.arange(width)[None, :] < lengths[rows, None]
            features = {
                "input_ids": _columns(chunk["input_ids"], rows, width, self.pad_token_id),
                "attention_mask": torch.from_numpy(mask.astype(np.int64)),
            }
            if "token_type_ids" in chunk:
                features["token_type_ids"] = _columns(chunk["token_type_ids"], rows, width, 0)
            yield rows, features

    @torch.inference_mode()
    def logits(
        self, queries: Sequence[str], candidates: Sequence[str], description: str = "scoring pairs"
    ) -> np.ndarray:
        """Raw scores (logits) for each pair, float32, in input order."""
        if len(queries) != len(candidates):
            raise ValueError(f"{len(queries)} queries but {len(candidates)} candidates")
        if not len(queries):
            return np.zeros(0, dtype=np.float32)
        unique, inverse = dedupe_pairs(queries, candidates)
        scores = np.empty(len(unique), dtype=np.float32)
        was_training = self.model.training
        self.model.eval()
        use_autocast = self.dtype != torch.float32
        device_type = torch.device(self.device).type
        pending: list[tuple[np.ndarray, torch.Tensor]] = []  # device results, fetched once at the end
        try:
            with progress_bar(description, total=len(unique)) as bar:
                for start, chunk in self._chunks(unique):
                    for rows, features in self.batches(chunk):
                        features = {k: v.to(self.device, non_blocking=True) for k, v in features.items()}
                        with torch.autocast(device_type=device_type, dtype=self.dtype, enabled=use_autocast):
                            out = self.model(features)["scores"]
                        pending.append((start + chunk["order"][rows], out.float().view(-1)))
                        bar.advance(rows.stop - rows.start)
            if pending:
                values = torch.cat([v for _, v in pending]).cpu().numpy()
                scores[np.concatenate([p for p, _ in pending])] = values
        finally:
            if was_training:
                self.model.train()
        return scores[inverse]

    def probabilities(self, queries: Sequence[str], candidates: Sequence[str], calibration=None) -> np.ndarray:
        logits = self.logits(queries, candidates)
        if calibration is not None:
            return calibration.probabilities(logits)
        return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))


def score_candidate_lists(scorer: PairScorer, queries: Sequence[str], candidate_lists: Sequence[Sequence[str]]):
    """Logits for every (query, candidate) of every list; returns a list of float32 arrays."""
    flat_q = [q for q, cands in zip(queries, candidate_lists, strict=True) for _ in cands]
    flat_c = [c for cands in candidate_lists for c in cands]
    flat = scorer.logits(flat_q, flat_c)
    out, start = [], 0
    for cands in candidate_lists:
        out.append(flat[start : start + len(cands)])
        start += len(cands)
    return out
