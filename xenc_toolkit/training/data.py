"""Training data: pre-tokenised Arrow columns, padding collators and a length-grouped batch sampler.

The stock ``CrossEncoderTrainer`` tokenises every batch inside the loss and pads
it to its longest pair, in random order. Here the pairs are tokenised once
(``datasets.map``, batched, Rust tokenizer) into ``input_ids`` / ``token_type_ids``
columns with exactly the stock tokenisation (pairs, ``truncation="longest_first"``,
the model's max length), batches are built from pairs of similar length, and the
collator only pads token ids. The model sees the same tokens; less padding and
no per-step tokenisation make each step much cheaper.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from sentence_transformers.base.sampler import DefaultBatchSampler

TOKEN_COLUMNS = ("input_ids", "token_type_ids")


def pretokenize_pairs(
    dataset, tokenizer, max_length: int, query_column="query", candidate_column="candidate", num_proc: int | None = None
):
    """Add ``input_ids`` (+ ``token_type_ids``) and ``length`` columns to a pair dataset."""

    def encode(batch):
        enc = tokenizer(
            batch[query_column],
            batch[candidate_column],
            truncation="longest_first",
            max_length=max_length,
            return_attention_mask=False,
        )
        out = {k: enc[k] for k in TOKEN_COLUMNS if k in enc}
        out["length"] = [len(x) for x in enc["input_ids"]]
        return out

    return dataset.map(encode, batched=True, batch_size=4096, num_proc=num_proc, desc="tokenising pairs")


def pretokenize_lists(dataset, tokenizer, max_length: int, num_proc: int | None = None):
    """For listwise data (``query``, ``candidate_texts``, ``labels``): nested token columns, one list per mention."""

    def encode(batch):
        flat_q = [q for q, cands in zip(batch["query"], batch["candidate_texts"], strict=True) for _ in cands]
        flat_c = [c for cands in batch["candidate_texts"] for c in cands]
        enc = tokenizer(flat_q, flat_c, truncation="longest_first", max_length=max_length, return_attention_mask=False)
        out: dict[str, list] = {k: [] for k in TOKEN_COLUMNS if k in enc}
        lengths = []
        start = 0
        for cands in batch["candidate_texts"]:
            stop = start + len(cands)
            for key in out:
                out[key].append(enc[key][start:stop])
            lengths.append(sum(len(x) for x in enc["input_ids"][start:stop]))
            start = stop
        out["length"] = lengths
        return out

    return dataset.map(encode, batched=True, batch_size=512, num_proc=num_proc, desc="tokenising candidate lists")


def _pad(sequences: list[list[int]], pad_id: int, multiple: int) -> tuple[torch.Tensor, torch.Tensor]:
    longest = max(len(s) for s in sequences)
    if multiple > 1:
        longest = ((longest + multiple - 1) // multiple) * multiple
    ids = torch.full((len(sequences), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), longest), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask


@dataclass
class PretokenizedPairCollator:
    """Pads pre-tokenised pairs; passes ``label`` and optional ``weight`` through."""

    pad_token_id: int = 0
    pad_to_multiple_of: int = 8
    valid_label_columns: tuple = ("label",)

    def __call__(self, features: list[dict]) -> dict:
        ids, mask = _pad([f["input_ids"] for f in features], self.pad_token_id, self.pad_to_multiple_of)
        batch = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in features[0]:
            types, _ = _pad([f["token_type_ids"] for f in features], 0, self.pad_to_multiple_of)
            batch["token_type_ids"] = types
        batch["label"] = torch.tensor([float(f["label"]) for f in features])
        if "weight" in features[0]:
            batch["weight"] = torch.tensor([float(f["weight"]) for f in features])
        return batch


@dataclass
class PretokenizedListCollator:
    """Flattens each mention's candidate list into pairs; ``group_sizes`` says where lists end."""

    pad_token_id: int = 0
    pad_to_multiple_of: int = 8
    valid_label_columns: tuple = ("labels",)

    def __call__(self, features: list[dict]) -> dict:
        seqs = [seq for f in features for seq in f["input_ids"]]
        ids, mask = _pad(seqs, self.pad_token_id, self.pad_to_multiple_of)
        batch = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in features[0]:
            types, _ = _pad([seq for f in features for seq in f["token_type_ids"]], 0, self.pad_to_multiple_of)
            batch["token_type_ids"] = types
        batch["group_sizes"] = torch.tensor([len(f["input_ids"]) for f in features])
        batch["label"] = torch.tensor([float(y) for f in features for y in f["labels"]])
        return batch


def bucket_tokens(lengths: np.ndarray, granularity: int | str = "auto") -> int:
    """Length-bucket width in tokens: ``granularity``, or for ``"auto"`` 16 when the median length is <= 16, else 8."""
    if granularity == "auto":
        return 16 if len(lengths) and float(np.median(lengths)) <= 16 else 8
    if not isinstance(granularity, int) or granularity < 1:
        raise ValueError(f"length bucket width must be a positive number of tokens or 'auto', got {granularity!r}")
    return granularity


class LengthGroupedBatchSampler(DefaultBatchSampler):
    """Random batches of similar-length examples.

    Each epoch: shuffle all indices (seeded by ``seed + epoch``), cut them into
    mega-chunks of ``batch_size * mega``, order each chunk by length *bucket*
    (``ceil(length / granularity)``, the padded length: batches stay random within a
    bucket instead of sorted by exact length, which would make batches of very short
    pairs unrepresentative), cut it into batches and shuffle the batch order.

    ``granularity="auto"`` takes 16-token buckets when the median example is at most 16
    tokens, else 8. Measured on an H100 with mention-only MedMentions pairs (7.7 tokens mean):
    8-token buckets split the data into "very short" and "short" batches that differ in content
    and learn slower (dev loss 4.3% above the stock trainer's after 120 steps, against 1.5% for
    another seed), 16-token buckets follow the stock curve within the seed spread at 20.6K
    samples/s (stock 6.9K); with context (43 tokens) 8-token buckets already match stock.

    When the dataset has a ``strata_column`` (default ``label``), each chunk is ordered by
    length bucket *within each label*, and the labels are interleaved by their length
    quantile: every batch keeps the data's label mix (where lengths and labels correlate,
    plain length order makes batches skewed towards one label, which changes the training
    trajectory), and within a label the lengths of a batch stay close.

    With ``micro = k > 1`` the sampler instead draws uniformly random groups of
    ``batch_size * k`` examples (the batches the stock trainer would draw) and yields each group
    as ``k`` consecutive micro-batches of ``batch_size``, sorted by length. Trained with ``k``
    gradient-accumulation steps, each update then sees exactly one random group: the gradient of
    a random batch (equal-sized micro-batches, mean losses), computed with less padding. Mega
    chunks and strata do not apply then.

    Deterministic for a given seed and epoch, so an interrupted run resumes with the
    same batches. For evaluation (``shuffle=False``) the batches are in length order.
    """

    def __init__(
        self,
        dataset,
        batch_size: int,
        drop_last: bool = False,
        valid_label_columns=None,
        generator=None,
        seed: int = 0,
        mega: int = 64,
        shuffle: bool = True,
        length_column: str = "length",
        granularity: int | str = "auto",
        strata_column: str | None = "label",
        micro: int = 1,
    ):
        super().__init__(
            dataset,
            batch_size=batch_size,
            drop_last=drop_last,
            valid_label_columns=valid_label_columns,
            generator=generator,
            seed=seed,
        )
        self.lengths = np.asarray(dataset[length_column], dtype=np.int64)
        self.granularity = bucket_tokens(self.lengths, granularity)
        self.buckets = -(-self.lengths // self.granularity)
        columns = getattr(dataset, "column_names", None) or []
        self.strata = (
            np.unique(np.asarray(dataset[strata_column]), return_inverse=True)[1].reshape(-1)
            if strata_column and strata_column in columns
            else None
        )
        self.mega = mega
        self.micro = max(1, int(micro))
        self.shuffle = shuffle
        self.seed = seed

    def _batches(self) -> list[list[int]]:
        n = len(self.lengths)
        if not self.shuffle:
            order = np.argsort(-self.lengths, kind="stable")
            batches = [order[i : i + self.batch_size].tolist() for i in range(0, n, self.batch_size)]
        else:
            rng = np.random.default_rng(self.seed + self.epoch)
            perm = rng.permutation(n)
            # micro-batches: each random group of k batches, longest first; else mega chunks by length bucket
            size = self.batch_size * (self.micro if self.micro > 1 else self.mega)
            batches = []
            for start in range(0, n, size):
                chunk = perm[start : start + size]
                chunk = (
                    chunk[np.argsort(-self.lengths[chunk], kind="stable")]
                    if self.micro > 1
                    else self._length_order(chunk)
                )
                batches.extend(chunk[i : i + self.batch_size].tolist() for i in range(0, len(chunk), self.batch_size))
            if self.micro == 1:
                rng.shuffle(batches)
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        return batches

    def _length_order(self, chunk: np.ndarray) -> np.ndarray:
        """The chunk longest bucket first; with strata, the strata interleaved by length quantile."""
        if self.strata is None:
            return chunk[np.argsort(-self.buckets[chunk], kind="stable")]
        strata = self.strata[chunk]
        quantile = np.empty(len(chunk), dtype=np.float64)
        for value in np.unique(strata):
            members = np.flatnonzero(strata == value)
            members = members[np.argsort(-self.buckets[chunk[members]], kind="stable")]
            quantile[members] = (np.arange(len(members)) + 0.5) / len(members)
        return chunk[np.argsort(quantile, kind="stable")]

    def __iter__(self) -> Iterator[list[int]]:
        yield from self._batches()

    def __len__(self) -> int:
        n = len(self.lengths)
        if not self.shuffle:
            return n // self.batch_size if self.drop_last else (n + self.batch_size - 1) // self.batch_size
        per_chunk = self.micro if self.micro > 1 else self.mega
        full, rest = divmod(n, self.batch_size * per_chunk)
        tail = rest // self.batch_size if self.drop_last else (rest + self.batch_size - 1) // self.batch_size
        return full * per_chunk + tail
