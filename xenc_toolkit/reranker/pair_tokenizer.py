"""Pair tokenisation that tokenises each distinct string once.

Reranking scores every (query, candidate) of every mention's list, so a query repeats once
per candidate and candidate texts repeat across mentions. Instead of tokenising every pair,
:class:`PairTokenizer` tokenises the distinct queries and candidates once (without special
tokens, in parallel threads), truncates each pair exactly as the Rust tokenizer's
``truncation="longest_first"`` does, and assembles ``[CLS] q [SEP] c [SEP]`` (or the model's
own template) with numpy. The template and the truncation rule are checked against the real
tokenizer when the object is created; if anything differs (an unusual tokenizer), it falls
back to tokenising the pairs directly. Either way the ids are those of ``tokenizer(q, c)``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..utils.tokenizers import private_rust_tokenizer


def _unique(texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
    position: dict[str, int] = {}
    inverse = np.empty(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        inverse[i] = position.setdefault(text, len(position))
    return list(position), inverse


def truncate_longest_first(
    a: np.ndarray, b: np.ndarray, budget: int, rule: str = "rust"
) -> tuple[np.ndarray, np.ndarray]:
    """Lengths kept of each side under ``truncation="longest_first"``.

    If both fit, both are kept; else a side no longer than ``budget // 2`` is kept whole and
    the other gets the rest; if both are longer, one side gets ``ceil(budget / 2)`` and the
    other ``floor(budget / 2)``: under the Rust tokenizers' rule (``rule="rust"``) the longer
    side (the second on a tie), under the token-at-a-time Python rule of some transformers
    releases (``rule="python"``) always the first. :class:`PairTokenizer` picks the rule its
    tokenizer follows by probing it; a tokenizer that follows neither (tokenizers 0.23.2 has
    other edge cases) gets the exact, slower pair tokenisation instead.
    """
    small, big = budget // 2, budget - budget // 2
    fits = a + b <= budget
    ta = np.where(a > b, big, small) if rule == "rust" else np.full_like(a, big)
    tb = budget - ta
    ta = np.where(b <= small, budget - b, ta)
    tb = np.where(b <= small, b, tb)
    ta = np.where(a <= small, a, ta)
    tb = np.where(a <= small, budget - a, tb)
    return np.where(fits, a, ta), np.where(fits, b, tb)


class PairTokenizer:
    """Tokenises (query, candidate) pairs into padded numpy arrays, longest first."""

    def __init__(self, tokenizer, max_length: int, threads: int | None = None):
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.threads = threads or min(8, os.cpu_count() or 1)
        self.fallback_reason: str | None = None  # why the fast path is off, when it is
        self.truncation_rule = "rust"
        self.backend = self._private_backend()  # the Rust tokenizer used directly; None: the wrapper
        self.template = self._template()

    def _private_backend(self):
        """A private copy of the Rust tokenizer with truncation and padding off (``None``: use the wrapper)."""
        try:
            return private_rust_tokenizer(self.tokenizer)
        except Exception:  # noqa: BLE001 - fall back to the wrapper
            return None

    # ------------------------------------------------------------------ template
    def _single(self, texts: Sequence[str]) -> list[list[int]]:
        backend = self.backend
        if backend is not None:  # the Rust tokenizer directly: no per-encoding Python wrapping
            return [e.ids for e in backend.encode_batch(list(texts), add_special_tokens=False)]
        return self.tokenizer(
            list(texts), add_special_tokens=False, return_attention_mask=False, return_token_type_ids=False
        )["input_ids"]

    def _template(self) -> dict | None:
        tok = self.tokenizer
        try:
            [[qa]], [[cb]] = self._single(["a"]), self._single(["b"])  # one token each, or ValueError
            if qa == cb:
                self.fallback_reason = "'a' and 'b' tokenise alike"
                return None
            probe = tok("a", "b")
            ids = list(probe["input_ids"])
            if ids.count(qa) != 1 or ids.count(cb) != 1:
                self.fallback_reason = f"unexpected pair template {ids}"
                return None
            ia, ib = ids.index(qa), ids.index(cb)
            types = list(probe["token_type_ids"]) if "token_type_ids" in probe else None
            template = {
                "prefix": ids[:ia],
                "mid": ids[ia + 1 : ib],
                "suffix": ids[ib + 1 :],
                "types": None
                if types is None
                else {
                    "prefix": types[:ia],
                    "q": types[ia],
                    "mid": types[ia + 1 : ib],
                    "c": types[ib],
                    "suffix": types[ib + 1 :],
                },
            }
        except Exception as exc:  # noqa: BLE001 - any surprise means: use the plain path
            self.fallback_reason = f"template probe failed: {exc!r}"
            return None
        self.template = template
        for rule in ("rust", "python"):
            self.truncation_rule = rule
            if self._verify():
                self.fallback_reason = None
                return template
        return None

    def _verify(self) -> bool:
        """The fast path must reproduce the tokenizer on probes that exercise truncation."""
        words = ["myocardial", "infarction", "of", "the", "left", "ventricle", "aspirin", "x", "hypertensive"]
        probes = []
        half = self.max_length // 2
        for n_q in (1, 3, half - 1, half, half + 1, self.max_length):
            for n_c in (1, 2, half - 1, half, half + 1, self.max_length + 3):
                probes.append(
                    (
                        " ".join(words[i % len(words)] for i in range(n_q)),
                        " ".join(words[(i + 3) % len(words)] for i in range(n_c)),
                    )
                )
        # one-token words at every boundary of the truncation rule (half, budget, max length)
        edges = sorted(
            {
                n
                for centre in (1, half - 2, self.max_length - 3, self.max_length)
                for n in range(centre - 2, centre + 4)
                if n >= 1
            }
        )
        probes += [(" ".join(["a"] * i), " ".join(["b"] * j)) for i in edges for j in edges]
        fast = self._fast([p[0] for p in probes], [p[1] for p in probes])
        reference = self.tokenizer(
            [p[0] for p in probes],
            [p[1] for p in probes],
            truncation="longest_first",
            max_length=self.max_length,
            padding="longest",
            return_tensors="np",
        )
        order = fast["order"]
        if fast["input_ids"].shape != reference["input_ids"].shape:
            self.fallback_reason = f"verification: shape {fast['input_ids'].shape} != {reference['input_ids'].shape}"
            return False
        if not np.array_equal(fast["input_ids"], reference["input_ids"][order]):
            bad = int(np.nonzero((fast["input_ids"] != reference["input_ids"][order]).any(1))[0][0])
            probe = probes[int(order[bad])]
            self.fallback_reason = (
                f"verification: input_ids differ from the tokenizer's, e.g. for a pair of {len(probe[0].split())} "
                f"and {len(probe[1].split())} words: {fast['input_ids'][bad].tolist()} vs "
                f"{reference['input_ids'][order][bad].tolist()}"
            )
            return False
        if "token_type_ids" not in reference:
            return True
        if "token_type_ids" in fast and np.array_equal(fast["token_type_ids"], reference["token_type_ids"][order]):
            return True
        self.fallback_reason = "verification: token_type_ids differ from the tokenizer's"
        return False

    # ------------------------------------------------------------------ tokenising
    def _parallel_single(self, texts: list[str]) -> list[list[int]]:
        if len(texts) < 4096 or self.threads < 2:
            return self._single(texts)
        size = (len(texts) + self.threads - 1) // self.threads
        with ThreadPoolExecutor(self.threads) as pool:
            parts = pool.map(self._single, [texts[i : i + size] for i in range(0, len(texts), size)])
        return [ids for part in parts for ids in part]

    def _fast(self, queries: Sequence[str], candidates: Sequence[str]) -> dict[str, np.ndarray]:
        t = self.template
        uq, qi = _unique(queries)
        uc, ci = _unique(candidates)
        q_ids, c_ids = self._parallel_single(uq), self._parallel_single(uc)
        q_len = np.fromiter((len(x) for x in q_ids), dtype=np.int64, count=len(q_ids))
        c_len = np.fromiter((len(x) for x in c_ids), dtype=np.int64, count=len(c_ids))
        q_flat = np.fromiter((tok for ids in q_ids for tok in ids), dtype=np.int64, count=int(q_len.sum()))
        c_flat = np.fromiter((tok for ids in c_ids for tok in ids), dtype=np.int64, count=int(c_len.sum()))
        q_off = np.concatenate([[0], np.cumsum(q_len)[:-1]]) if len(q_len) else np.zeros(0, np.int64)
        c_off = np.concatenate([[0], np.cumsum(c_len)[:-1]]) if len(c_len) else np.zeros(0, np.int64)
        n_prefix, n_mid, n_suffix = len(t["prefix"]), len(t["mid"]), len(t["suffix"])
        budget = self.max_length - (n_prefix + n_mid + n_suffix)
        ta, tb = truncate_longest_first(q_len[qi], c_len[ci], budget, self.truncation_rule)
        total = ta + tb + n_prefix + n_mid + n_suffix
        order = np.argsort(-total, kind="stable")
        ta, tb, total, qi, ci = ta[order], tb[order], total[order], qi[order], ci[order]
        n = len(total)
        width = int(total.max()) if n else 0
        # flat layout: one entry per real token, then scattered into the padded matrix
        row = np.repeat(np.arange(n, dtype=np.int64), total)
        starts = np.concatenate([[0], np.cumsum(total)[:-1]]) if n else np.zeros(0, np.int64)
        pos = np.arange(len(row), dtype=np.int64) - starts[row]
        q_end = n_prefix + ta[row]
        c_start = q_end + n_mid
        c_end = c_start + tb[row]
        segment = np.select([pos < n_prefix, pos < q_end, pos < c_start, pos < c_end], [0, 1, 2, 3], default=4).astype(
            np.int8
        )
        pad = self.tokenizer.pad_token_id or 0
        flat = np.empty(len(row), dtype=np.int64)
        flat_types = np.empty(len(row), dtype=np.int64) if t["types"] is not None else None
        sources = [
            (0, lambda m: np.asarray(t["prefix"], np.int64)[pos[m]], "prefix"),
            (1, lambda m: q_flat[q_off[qi[row[m]]] + pos[m] - n_prefix], "q"),
            (2, lambda m: np.asarray(t["mid"], np.int64)[pos[m] - q_end[m]], "mid"),
            (3, lambda m: c_flat[c_off[ci[row[m]]] + pos[m] - c_start[m]], "c"),
            (4, lambda m: np.asarray(t["suffix"], np.int64)[pos[m] - c_end[m]], "suffix"),
        ]
        for code, values, name in sources:
            mask = segment == code
            if not mask.any():
                continue
            flat[mask] = values(mask)
            if flat_types is not None:
                kind = t["types"][name]
                if isinstance(kind, list):
                    offset = {0: 0, 2: q_end, 4: c_end}[code]
                    local = pos[mask] - (offset if code == 0 else offset[mask])
                    flat_types[mask] = np.asarray(kind, np.int64)[local]
                else:
                    flat_types[mask] = kind
        ids = np.full((n, width), pad, dtype=np.int32)
        ids[row, pos] = flat
        out = {"order": order, "lengths": total, "input_ids": ids}
        if flat_types is not None:
            type_ids = np.zeros((n, width), dtype=np.int8)
            type_ids[row, pos] = flat_types
            out["token_type_ids"] = type_ids
        return out

    def _plain(self, queries: Sequence[str], candidates: Sequence[str]) -> dict[str, np.ndarray]:
        encoded = self.tokenizer(
            list(queries),
            list(candidates),
            truncation="longest_first",
            max_length=self.max_length,
            padding="longest",
            return_tensors="np",
        )
        lengths = encoded["attention_mask"].sum(axis=1)
        order = np.argsort(-lengths, kind="stable")
        out = {"order": order, "lengths": lengths[order], "input_ids": encoded["input_ids"][order]}
        if "token_type_ids" in encoded:
            out["token_type_ids"] = encoded["token_type_ids"][order]
        return out

    def __call__(self, queries: Sequence[str], candidates: Sequence[str]) -> dict[str, np.ndarray]:
        """``{"order", "lengths", "input_ids"[, "token_type_ids"]}``: rows sorted longest first,
        ``order[i]`` = the input position of row ``i``; ids equal ``tokenizer(q, c, truncation="longest_first")``."""
        if self.template is not None:
            return self._fast(queries, candidates)
        return self._plain(queries, candidates)
