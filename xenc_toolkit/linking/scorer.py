"""Fast batched CrossEncoder scoring of (query, candidate) pairs.

Same function as ``CrossEncoder.predict`` (the same tokenisation: pairs,
``truncation="longest_first"``, the model's max length; the same model forward),
organised for throughput:

* identical pairs are scored once;
* pairs are tokenised in large chunks by the Rust tokenizer on a background
  thread, sorted by length and batched under a token budget (near-zero padding);
* the model runs in bf16 on GPU (``precision='auto'``), under ``inference_mode``;
* logits come back in input order; probabilities are ``sigmoid(logits)`` (or a
  calibration, see :mod:`xenc_toolkit.calibration`).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence

import numpy as np
import torch

from ..index.encoder import resolve_dtype
from ..utils.progress import progress_bar


def _dedupe(queries: Sequence[str], candidates: Sequence[str]) -> tuple[list[tuple[str, str]], np.ndarray]:
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
        chunk_size: int = 65536,
    ):
        self.model = model
        self.batch_size = batch_size
        self.max_tokens = max_tokens or batch_size * 64
        self.device = model.device
        self.dtype = resolve_dtype(precision, torch.device(self.device))
        self.max_length = max_length or model.max_length
        self.tokenizer = model.tokenizer
        self.chunk_size = chunk_size

    def _tokenize(self, pairs: Sequence[tuple[str, str]]) -> dict[str, list[list[int]]]:
        encoded = self.tokenizer(
            [p[0] for p in pairs],
            [p[1] for p in pairs],
            truncation="longest_first",
            max_length=self.max_length,
            return_attention_mask=False,
        )
        return {k: v for k, v in encoded.items() if k in ("input_ids", "token_type_ids")}

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

    @torch.inference_mode()
    def logits(
        self, queries: Sequence[str], candidates: Sequence[str], description: str = "scoring pairs"
    ) -> np.ndarray:
        """Raw scores (logits) for each pair, float32, in input order."""
        if len(queries) != len(candidates):
            raise ValueError(f"{len(queries)} queries but {len(candidates)} candidates")
        if not len(queries):
            return np.zeros(0, dtype=np.float32)
        unique, inverse = _dedupe(queries, candidates)
        scores = np.empty(len(unique), dtype=np.float32)
        pad_id = self.tokenizer.pad_token_id or 0
        was_training = self.model.training
        self.model.eval()
        use_autocast = self.dtype != torch.float32
        device_type = torch.device(self.device).type
        try:
            with progress_bar(description, total=len(unique)) as bar:
                for start, chunk in self._chunks(unique):
                    ids = chunk["input_ids"]
                    types = chunk.get("token_type_ids")
                    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
                    order = np.argsort(-lengths, kind="stable")
                    i = 0
                    while i < len(order):
                        longest = int(lengths[order[i]])
                        size = max(1, min(self.batch_size, self.max_tokens // max(1, longest), len(order) - i))
                        rows = order[i : i + size]
                        input_ids = np.full((size, longest), pad_id, dtype=np.int64)
                        mask = np.zeros((size, longest), dtype=np.int64)
                        type_ids = np.zeros((size, longest), dtype=np.int64) if types is not None else None
                        for r, row in enumerate(rows.tolist()):
                            n = len(ids[row])
                            input_ids[r, :n] = ids[row]
                            mask[r, :n] = 1
                            if type_ids is not None:
                                type_ids[r, :n] = types[row]
                        features = {
                            "input_ids": torch.from_numpy(input_ids).to(self.device, non_blocking=True),
                            "attention_mask": torch.from_numpy(mask).to(self.device, non_blocking=True),
                        }
                        if type_ids is not None:
                            features["token_type_ids"] = torch.from_numpy(type_ids).to(self.device, non_blocking=True)
                        with torch.autocast(device_type=device_type, dtype=self.dtype, enabled=use_autocast):
                            out = self.model(features)["scores"]
                        scores[start + rows] = out.float().view(-1).cpu().numpy()
                        i += size
                        bar.advance(size)
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
