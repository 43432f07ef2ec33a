"""Fast bi-encoder for KB names and mentions.

Loads any sentence-transformers model (its own pooling and normalisation) or plain
Hugging Face encoder (CLS or mean pooling; SapBERT uses CLS) and embeds strings
much faster than a naive loop:

* tokenisation runs in large chunks in the Rust tokenizer (multi-threaded, no
  Python per token), on a background thread so it overlaps with the GPU;
* each chunk is sorted by length and cut into batches under a token budget, so
  padding is near zero;
* the model runs in bf16/fp16 on GPU (fp32 on CPU) under ``torch.inference_mode``;
* embeddings are L2-normalised on the device and written back in input order.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import XencError
from ..utils.progress import progress_bar

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_device(device: str | None) -> torch.device:
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """'auto' means bf16 on GPUs that support it (fp16 otherwise), fp32 on CPU."""
    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return _DTYPES[dtype]


def _is_sentence_transformers_dir(path: str) -> bool:
    return Path(path, "modules.json").exists()


@dataclass
class EncoderInfo:
    """What the index manifest records about the encoder."""

    name: str
    revision: str | None
    pooling: str
    normalize: bool
    dimension: int
    max_length: int
    resolved_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _TokenChunk:
    positions: np.ndarray  # original indices, longest first
    ids: np.ndarray  # [n, chunk_max] token ids (right-padded), rows in ``positions`` order
    lengths: np.ndarray  # tokens per row


class NameEncoder:
    """Embeds names and mentions into L2-normalised vectors.

    Args:
        model: sentence-transformers or HF model name or local path.
        pooling: 'auto' (the ST model's pooling; CLS for plain HF models), 'cls' or 'mean'.
        max_length: tokens per string (names are short; SapBERT was trained with 25).
        device / dtype: see :func:`resolve_device` / :func:`resolve_dtype`.
        revision: Hub revision.
    """

    def __init__(
        self,
        model: str,
        pooling: str = "auto",
        max_length: int = 25,
        device: str | None = None,
        dtype: str = "auto",
        revision: str | None = None,
    ):
        from transformers import AutoModel, AutoTokenizer

        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.max_length = max_length
        self.model_name = model
        self.revision = revision
        st_pooling = _read_st_pooling(model) if _is_sentence_transformers_dir(model) else None
        normalize = True
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model, revision=revision)
            try:
                self.model = AutoModel.from_pretrained(model, revision=revision, add_pooling_layer=False)
            except TypeError:  # architectures without a pooler
                self.model = AutoModel.from_pretrained(model, revision=revision)
        except OSError as exc:
            raise XencError(f"cannot load encoder {model!r}: {str(exc).splitlines()[0]}") from exc
        if pooling == "auto":
            pooling = st_pooling or "cls"
        if pooling not in ("cls", "mean"):
            raise XencError(f"encoder {model!r}: pooling {pooling!r} is not supported (expected 'cls' or 'mean')")
        self.pooling = pooling
        self.normalize = normalize
        self.model.eval()
        self.model.to(self.device, dtype=self.dtype)
        self.dimension = int(self.model.config.hidden_size)
        self.resolved_path = str(Path(model).resolve()) if Path(model).exists() else None

    @property
    def info(self) -> EncoderInfo:
        return EncoderInfo(
            name=self.model_name,
            revision=self.revision,
            pooling=self.pooling,
            normalize=self.normalize,
            dimension=self.dimension,
            max_length=self.max_length,
            resolved_path=self.resolved_path,
        )

    # ----------------------------------------------------------------- tokenisation
    def _tokenize_chunk(self, texts: Sequence[str], start: int) -> _TokenChunk:
        """Tokenise (padded by the Rust tokenizer to the chunk's longest) and sort rows longest first."""
        encoded = self.tokenizer(
            list(texts),
            truncation=True,
            max_length=self.max_length,
            padding="longest",
            return_tensors="np",
            return_token_type_ids=False,
        )
        lengths = encoded["attention_mask"].sum(axis=1)
        order = np.argsort(-lengths, kind="stable")
        return _TokenChunk(positions=order + start, ids=encoded["input_ids"][order], lengths=lengths[order])

    def _chunks(self, texts: Sequence[str], chunk_size: int) -> Iterator[_TokenChunk]:
        """Tokenise chunks on a background thread (the Rust tokenizer releases the GIL)."""
        out: queue.Queue = queue.Queue(maxsize=2)
        sentinel = object()

        def worker() -> None:
            try:
                for start in range(0, len(texts), chunk_size):
                    out.put(self._tokenize_chunk(texts[start : start + chunk_size], start))
            except BaseException as exc:  # surfaced in the consumer
                out.put(exc)
            out.put(sentinel)

        thread = threading.Thread(target=worker, daemon=True)
        thread.start()
        while True:
            item = out.get()
            if item is sentinel:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
        thread.join()

    # ----------------------------------------------------------------- encoding
    @torch.inference_mode()
    def encode(
        self,
        texts: Sequence[str],
        batch_size: int = 1024,
        max_tokens: int | None = None,
        chunk_size: int = 131072,
        output: str = "numpy",
        description: str = "encoding",
    ) -> np.ndarray | torch.Tensor:
        """Embed ``texts``; returns float32 numpy (``output='numpy'``) or a device tensor (``'torch'``).

        Batches hold at most ``batch_size`` strings and ``max_tokens`` padded tokens
        (default ``batch_size * 16`` on GPU; on CPU at most 256 strings and 4,096 tokens).
        """
        n = len(texts)
        if self.device.type == "cpu":
            # CPU matmuls gain nothing from huge batches, while padding to a long batch's longest costs:
            # keep batches small so length sorting pays off
            batch_size = min(batch_size, 256)
            max_tokens = max_tokens or 4096
        max_tokens = max_tokens or batch_size * 16
        if output == "torch":
            result = torch.empty((n, self.dimension), dtype=self.dtype, device=self.device)
        else:
            result_np = np.empty((n, self.dimension), dtype=np.float32)
        pin = self.device.type == "cuda"
        with progress_bar(description, total=n) as bar:
            for chunk in self._chunks(texts, chunk_size):
                i = 0
                while i < len(chunk.lengths):
                    longest = int(chunk.lengths[i])  # sorted descending: the first is the longest
                    size = max(1, min(batch_size, max_tokens // max(1, longest), len(chunk.lengths) - i))
                    ids = chunk.ids[i : i + size, :longest].astype(np.int64)
                    mask = (np.arange(longest)[None, :] < chunk.lengths[i : i + size, None]).astype(np.int64)
                    input_ids = torch.from_numpy(ids)
                    attention = torch.from_numpy(mask)
                    if pin:
                        input_ids = input_ids.pin_memory()
                        attention = attention.pin_memory()
                    input_ids = input_ids.to(self.device, non_blocking=True)
                    attention = attention.to(self.device, non_blocking=True)
                    emb = self._forward(input_ids, attention)
                    positions = torch.from_numpy(chunk.positions[i : i + size])
                    if output == "torch":
                        result[positions.to(self.device)] = emb.to(self.dtype)
                    else:
                        result_np[positions.numpy()] = emb.float().cpu().numpy()
                    i += size
                    bar.advance(size)
        return result if output == "torch" else result_np

    def _forward(self, input_ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        hidden = self.model(input_ids=input_ids, attention_mask=attention).last_hidden_state
        if self.pooling == "cls":
            emb = hidden[:, 0]
        else:
            weights = attention.unsqueeze(-1).to(hidden.dtype)
            emb = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)
        emb = emb.float()
        if self.normalize:
            emb = torch.nn.functional.normalize(emb, dim=-1)
        return emb


def _read_st_pooling(path: str) -> str | None:
    """The pooling mode of a local sentence-transformers model directory (first Pooling module)."""
    modules = json.loads(Path(path, "modules.json").read_text())
    for module in modules:
        if module.get("type", "").endswith("Pooling"):
            config = Path(path, module.get("path", ""), "config.json")
            if not config.exists():
                return None
            data = json.loads(config.read_text())
            mode = data.get("pooling_mode")
            if mode is None:
                if data.get("pooling_mode_cls_token"):
                    mode = "cls"
                elif data.get("pooling_mode_mean_tokens"):
                    mode = "mean"
            return mode if mode in ("cls", "mean") else None
    return None
