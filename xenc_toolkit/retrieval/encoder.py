"""Fast bi-encoder for KB names and mentions.

Loads any sentence-transformers model (its own pooling and normalisation) or plain
Hugging Face encoder (CLS or mean pooling; SapBERT uses CLS) and embeds strings
much faster than a naive loop:

* tokenisation runs in large chunks straight in the Rust tokenizer (multi-threaded, no
  per-encoding Python wrapping; checked against the transformers tokenizer when the
  encoder is created, which it falls back to if they differ), on a background thread so
  it overlaps with the GPU;
* each chunk is sorted by length and cut into batches of **one length** under a row and
  token budget: no padding, so no attention mask (SDPA can take its flash kernel, and
  transformers need not inspect a mask, which would wait for the GPU at every batch);
* the model runs in fp16 on GPU by default (bf16 on request; fp32 on CPU) under ``torch.inference_mode``;
* embeddings are L2-normalised on the device and written back in input order without
  waiting for each batch (pinned host buffers, copied back a few batches behind);
* with several devices (``devices=["cuda:0", "cuda:1"]`` or ``["all"]``), one worker
  thread per device takes the next length-sorted batch as soon as it is free, each with
  its own copy of the model; the batches are exactly those of a single-device run and
  each lands in its input position, so the result equals the single-device result.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import json
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import XencError
from ..utils.batching import token_budget_batches
from ..utils.devices import resolve_device, resolve_devices, resolve_dtype
from ..utils.hub import cached_snapshot, check_model_available
from ..utils.library_logs import quiet_loading
from ..utils.progress import progress_bar
from ..utils.tokenize_pool import TokenizerPool, padded_ids, token_ids
from ..utils.tokenizers import private_rust_tokenizer


def _is_sentence_transformers_dir(path: str) -> bool:
    return Path(path, "modules.json").exists()


def resolve_pooling(model: str, pooling: str = "auto", revision: str | None = None) -> str:
    """The pooling :class:`NameEncoder` applies to ``model``: 'cls' or 'mean'.

    ``'auto'`` is a sentence-transformers model's own pooling (its first Pooling module), read
    from its local directory or, for a Hub name, its snapshot in the Hugging Face cache; else CLS
    (plain Hugging Face models, as SapBERT).

    Raises:
        XencError: the pooling (given, or the sentence-transformers directory's) is neither CLS nor mean.
    """
    if pooling == "auto":
        local = model if Path(model).expanduser().exists() else (cached_snapshot(model, revision) or model)
        pooling = (_read_st_pooling(local) if _is_sentence_transformers_dir(local) else None) or "cls"
    if pooling not in ("cls", "mean"):
        raise XencError(f"encoder {model!r}: pooling {pooling!r} is not supported (expected 'cls' or 'mean')")
    return pooling


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
        devices: encode on several devices at once (see :func:`resolve_devices`); the first one
            replaces ``device`` (the model lives there; ``output='torch'`` results land there).
    """

    def __init__(
        self,
        model: str,
        pooling: str = "auto",
        max_length: int = 25,
        device: str | None = None,
        dtype: str = "auto",
        revision: str | None = None,
        devices: Sequence[str] | None = None,
    ):
        from transformers import AutoModel, AutoTokenizer

        self.devices = resolve_devices(devices)
        self.device = self.devices[0] if self.devices else resolve_device(device)
        self._replicas: dict[tuple[int, str], torch.nn.Module] = {}
        # 'auto' on GPU: fp16, not bf16: embeddings are compared to one another (near-duplicate names),
        # and fp16 keeps 3 more mantissa bits; normalised embeddings stay far from fp16's range limits
        self.dtype = (
            torch.float16 if dtype == "auto" and self.device.type == "cuda" else resolve_dtype(dtype, self.device)
        )
        self.max_length = max_length
        self.model_name = model
        self.revision = revision
        normalize = True
        check_model_available(model, revision, "encoder")  # seconds, not a minute of Hub retries, when offline
        try:
            with quiet_loading():  # an unused pooler's "LOAD REPORT": --verbose shows it
                self.tokenizer = AutoTokenizer.from_pretrained(model, revision=revision)
                try:
                    self.model = AutoModel.from_pretrained(model, revision=revision, add_pooling_layer=False)
                except TypeError:  # architectures without a pooler
                    self.model = AutoModel.from_pretrained(model, revision=revision)
        except OSError as exc:
            raise XencError(f"cannot load encoder {model!r}: {str(exc).splitlines()[0]}") from exc
        self.pooling = resolve_pooling(model, pooling, revision)
        self.normalize = normalize
        self.tokenizer_fallback: str | None = None  # why the Rust tokenizer path is off, when it is
        self._backend = self._fast_backend()
        self._pad_id = int(self.tokenizer.pad_token_id or 0)
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
    def _fast_backend(self):
        """A private copy of the Rust tokenizer that truncates like ``tokenizer(texts, truncation=True)``.

        Returns ``None`` (and sets ``tokenizer_fallback``) when there is no Rust tokenizer or the
        copy does not reproduce the transformers tokenizer on probe strings.
        """
        try:
            private = private_rust_tokenizer(self.tokenizer)
            if private is None:
                self.tokenizer_fallback = "no Rust tokenizer"
                return None
            side = getattr(self.tokenizer, "truncation_side", "right")
            private.enable_truncation(self.max_length, strategy="longest_first", direction=side)
            probes = [
                "",
                "a",
                "Myocardial infarction",
                "ASA (Aspirin)",
                "TNF-α-induced NF-κB activation in HeLa cells",
                "  spaced   out  ",
                "Ünïcödé naïve café",
                " ".join(["hypertensive cardiovascular disease"] * 12),
            ]
            expected = self.tokenizer(probes, truncation=True, max_length=self.max_length)["input_ids"]
            if [list(e) for e in expected] != token_ids(private, probes):
                raise ValueError("token ids differ from the transformers tokenizer on probe strings")
        except Exception as exc:  # noqa: BLE001 - any surprise means: use the transformers tokenizer
            self.tokenizer_fallback = f"Rust tokenizer path off: {exc}"
            return None
        return private

    def _token_ids(self, texts: list[str]) -> list[list[int]]:
        if self._backend is not None:
            return token_ids(self._backend, texts)
        return self.tokenizer(
            texts, truncation=True, max_length=self.max_length, return_attention_mask=False, return_token_type_ids=False
        )["input_ids"]

    def _tokenize_chunk(self, texts: Sequence[str], start: int) -> _TokenChunk:
        """Tokenise, right-pad with numpy (no Python loop over tokens) and sort rows longest first."""
        padded, lengths = padded_ids(self._token_ids(list(texts)), self._pad_id)
        return _sorted_chunk(padded, lengths, start)

    def tokenizer_processes(self, n_texts: int, processes: int | None) -> int:
        """Worker processes for tokenising ``n_texts`` (0: a thread in this process).

        ``None`` = automatic: only for large inputs on a GPU (the case where converting encodings to
        Python lists under the GIL, not the model, limits speed), one per 4 CPUs, at most 8.
        """
        if self._backend is None:
            return 0
        if processes is None:
            if self.device.type != "cuda" or n_texts < 1_000_000:
                return 0
            processes = min(8, (os.cpu_count() or 1) // 4)
        return processes if processes >= 2 else 0

    def chunks(self, texts: Sequence[str], chunk_size: int, processes: int = 0) -> Iterator[_TokenChunk]:
        """Tokenise chunks on a background thread (the Rust tokenizer releases the GIL), or in
        ``processes`` worker processes (:class:`~xenc_toolkit.utils.tokenize_pool.TokenizerPool`)."""
        out: queue.Queue = queue.Queue(maxsize=2)
        sentinel = object()
        stop = threading.Event()  # the consumer stopped early (an error, Ctrl-C): end the thread and its pool

        def put(item) -> bool:
            while not stop.is_set():
                try:
                    out.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def worker() -> None:
            try:
                if processes:
                    with TokenizerPool(self._backend, self._pad_id, processes) as pool:
                        for start, padded, lengths in pool.map_chunks(texts, chunk_size):
                            if not put(_sorted_chunk(padded, lengths, start)):
                                return
                else:
                    for start in range(0, len(texts), chunk_size):
                        if not put(self._tokenize_chunk(texts[start : start + chunk_size], start)):
                            return
            except BaseException as exc:  # surfaced in the consumer
                put(exc)
            put(sentinel)

        thread = threading.Thread(target=worker, daemon=True)
        thread.start()
        try:
            while True:
                item = out.get()
                if item is sentinel:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            thread.join()  # the worker pool, if any, is shut down before this returns

    # ----------------------------------------------------------------- encoding
    def _batch_limits(self, batch_size: int, max_tokens: int | None) -> tuple[int, int]:
        if self.device.type == "cpu":
            # CPU matmuls gain nothing from huge batches: keep them small
            batch_size = min(batch_size, 256)
            max_tokens = max_tokens or 4096
        return batch_size, max_tokens or batch_size * 16

    def batches(
        self, texts: Sequence[str], batch_size: int, max_tokens: int, chunk_size: int, processes: int = 0
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(token ids, lengths, input positions) of each batch: rows of one length, longest first per chunk."""
        for chunk in self.chunks(texts, chunk_size, processes):
            for rows, longest in token_budget_batches(chunk.lengths, batch_size, max_tokens, same_width=True):
                yield chunk.ids[rows, :longest], chunk.lengths[rows], chunk.positions[rows]

    def embed_batch(self, model, device: torch.device, ids: np.ndarray, lengths: np.ndarray) -> torch.Tensor:
        """Pooled, normalised float32 embeddings of one batch of :meth:`batches` (``model`` on ``device``)."""
        input_ids = torch.from_numpy(np.ascontiguousarray(ids))
        if device.type == "cuda":
            input_ids = input_ids.pin_memory()
        input_ids = input_ids.to(device, non_blocking=True).long()
        attention = None  # rows of one length: nothing to mask
        width = ids.shape[1]
        if len(lengths) and int(lengths.min()) < width:
            lens = torch.from_numpy(np.asarray(lengths, dtype=np.int64)).to(device)
            attention = (torch.arange(width, device=device)[None, :] < lens[:, None]).long()
        return self._forward(input_ids, attention, model)

    @torch.inference_mode()
    def encode(
        self,
        texts: Sequence[str],
        batch_size: int = 16384,
        max_tokens: int | None = None,
        chunk_size: int = 131072,
        output: str = "numpy",
        description: str = "encoding",
        devices: Sequence[str] | None = None,
        tokenizer_processes: int | None = None,
    ) -> np.ndarray | torch.Tensor:
        """Embed ``texts``; returns float32 numpy (``output='numpy'``) or a device tensor (``'torch'``).

        Batches hold at most ``batch_size`` strings and ``max_tokens`` tokens (default
        ``batch_size * 16`` on GPU; on CPU at most 256 strings and 4,096 tokens), all of one
        length. ``devices`` (default: the encoder's ``devices``) spreads the batches over
        several devices of the encoder's device type; the result is the same.
        ``tokenizer_processes``: tokenise in that many worker processes (``None``: automatic, see
        :meth:`tokenizer_processes`; 0: a background thread).
        """
        targets = resolve_devices(devices) if devices else self.devices
        if targets and {d.type for d in targets} != {self.device.type}:
            raise XencError(f"encoder devices {[str(d) for d in targets]}: the model is on {self.device}")
        n = len(texts)
        batch_size, max_tokens = self._batch_limits(batch_size, max_tokens)
        if output == "torch":
            result = torch.empty((n, self.dimension), dtype=self.dtype, device=self.device)
        else:
            result = np.empty((n, self.dimension), dtype=np.float32)

        processes = self.tokenizer_processes(n, tokenizer_processes)
        batches = self.batches(texts, batch_size, max_tokens, chunk_size, processes)
        with progress_bar(description, total=n) as bar:
            if targets and (len(targets) > 1 or targets[0] != self.device):
                self._encode_on_devices(batches, targets, result, bar)
            else:
                sink = ResultSink(result)
                for ids, lengths, positions in batches:
                    sink.put(self.embed_batch(self.model, self.device, ids, lengths), positions)
                    bar.advance(len(positions))
                sink.flush()
        return result

    def _replica(self, index: int, device: torch.device):
        """The model for worker ``index`` on ``device``: the encoder's own model first, then cached copies."""
        if index == 0 and device == self.device:
            return self.model
        key = (index, str(device))
        if key not in self._replicas:
            replica = copy.deepcopy(self.model).to(device)
            replica.eval()
            self._replicas[key] = replica
        return self._replicas[key]

    def _encode_on_devices(self, batches, devices: list[torch.device], result, bar) -> None:
        """One worker thread per device pulls batches from a queue (the GPU kernels run without the GIL)."""
        models = [self._replica(i, device) for i, device in enumerate(devices)]
        work: queue.Queue = queue.Queue(maxsize=2 * len(devices))
        failures: list[BaseException] = []
        lock = threading.Lock()  # one writer at a time into a device result

        def worker(model, device: torch.device) -> None:
            try:
                context = torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()
                sink = ResultSink(result, lock)
                with context, torch.inference_mode():  # inference mode is per thread
                    while (item := work.get()) is not None:
                        if failures:
                            continue  # another worker failed: drain the queue so the producer never blocks
                        ids, lengths, positions = item
                        sink.put(self.embed_batch(model, device, ids, lengths), positions)
                        bar.advance(len(positions))
                    sink.flush()
            except BaseException as exc:  # surfaced by the producer
                failures.append(exc)
                while work.get() is not None:
                    pass

        threads = [
            threading.Thread(target=worker, args=(model, device), daemon=True, name=f"xenc-encode-{device}")
            for model, device in zip(models, devices, strict=True)
        ]
        for thread in threads:
            thread.start()
        try:
            for item in batches:
                if failures:
                    break
                work.put(item)
        finally:
            for _ in threads:
                work.put(None)
            for thread in threads:
                thread.join()
        if failures:
            raise failures[0]

    def _forward(self, input_ids: torch.Tensor, attention: torch.Tensor | None, model=None) -> torch.Tensor:
        """Pooled, normalised float32 embeddings; ``attention=None`` means no padding."""
        model = self.model if model is None else model
        hidden = model(input_ids=input_ids, attention_mask=attention).last_hidden_state
        if self.pooling == "cls":
            emb = hidden[:, 0]
        elif attention is None:
            emb = hidden.float().mean(1)
        else:
            weights = attention.unsqueeze(-1).to(hidden.dtype)
            emb = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)
        emb = emb.float()
        if self.normalize:
            emb = torch.nn.functional.normalize(emb, dim=-1)
        return emb


def _sorted_chunk(padded: np.ndarray, lengths: np.ndarray, start: int) -> _TokenChunk:
    order = np.argsort(-lengths, kind="stable")
    return _TokenChunk(positions=order + start, ids=padded[order], lengths=lengths[order])


class ResultSink:
    """Writes batch embeddings into the result at their input positions without waiting for the GPU.

    numpy results: each batch is copied into a pinned host buffer asynchronously and scattered
    into the array a few batches later, once its copy has finished (CPU embeddings directly).
    Device results: positions travel to the device asynchronously and the scatter is queued
    there (under ``lock`` when several worker threads write into one device tensor).
    """

    def __init__(self, result: np.ndarray | torch.Tensor, lock: threading.Lock | None = None, lag: int = 4):
        self.result = result
        self.lock = lock or contextlib.nullcontext()
        self.lag = lag
        self.pending: collections.deque = collections.deque()

    def put(self, emb: torch.Tensor, positions: np.ndarray) -> None:
        if isinstance(self.result, torch.Tensor):
            target = self.result.device
            index = torch.from_numpy(positions)
            if target.type == "cuda":
                index = index.pin_memory()
            index = index.to(target, non_blocking=True)
            with self.lock:
                self.result[index] = emb.to(target, self.result.dtype, non_blocking=True)
            return
        if emb.device.type != "cuda":
            self.result[positions] = emb.float().numpy()
            return
        host = torch.empty(emb.shape, dtype=torch.float32, pin_memory=True)
        host.copy_(emb, non_blocking=True)
        done = torch.cuda.Event()
        done.record()
        self.pending.append((done, host, positions))
        while len(self.pending) > self.lag:
            self._finish_oldest()

    def _finish_oldest(self) -> None:
        done, host, positions = self.pending.popleft()
        done.synchronize()
        self.result[positions] = host.numpy()

    def flush(self) -> None:
        while self.pending:
            self._finish_oldest()


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
