"""The candidate generator of a KB: dense, TF-IDF and fused candidate lists for batches of mentions.

Which lists it makes is the registered generator named by ``candidates.generator``
(:mod:`xenc_toolkit.retrieval.generators`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..kb.model import KnowledgeBase
from ..settings import CandidateConfig
from .candidates import CandidateLists, aggregate_to_concepts
from .generators import GENERATORS
from .tfidf import TfidfIndex
from .tfidf_cache import cached_tfidf_index


class CandidateGenerator:
    """Dense, TF-IDF and fused candidates for batches of mention strings.

    Args:
        kb: the knowledge base (its name rows are the index rows).
        cfg: candidate settings.
        dense_index: a :class:`~xenc_toolkit.retrieval.DenseIndex` (needed for 'dense' and 'fusion').
    """

    def __init__(self, kb: KnowledgeBase, cfg: CandidateConfig, dense_index=None, device: str | None = None):
        self.kb = kb
        self.cfg = cfg
        self.dense_index = dense_index
        self.device = device
        self._tfidf: TfidfIndex | None = None
        if GENERATORS.entry(cfg.generator).meta.get("needs_dense_index") and dense_index is None:
            raise ValueError(f"candidate generator {cfg.generator!r} needs a dense index")

    @property
    def top_k_names(self) -> int:
        return self.cfg.top_k_names or 4 * self.cfg.n_candidates

    @property
    def tfidf(self) -> TfidfIndex:
        if self._tfidf is None:  # saved beside a saved index of this KB, loaded from there next time
            saved = getattr(self.dense_index, "directory", None)
            same_kb = saved is not None and self.dense_index.manifest["kb"]["checksum"] == self.kb.checksum
            ngrams = (self.cfg.tfidf_ngram_min, self.cfg.tfidf_ngram_max)
            self._tfidf = cached_tfidf_index(self.kb, ngrams, saved if same_kb else None)
        return self._tfidf

    def dense_embeddings(self, texts: Sequence[str]):
        encoder = self.dense_index.encoder(device=self.device)
        return encoder.encode(
            texts,
            batch_size=self.cfg.batch_size,
            description="embedding mentions",
            output="torch" if encoder.device.type == "cuda" else "numpy",
        )

    def dense(self, texts: Sequence[str], embeddings=None) -> CandidateLists:
        if embeddings is None:
            embeddings = self.dense_embeddings(texts)
        scores, ids = self.dense_index.search(embeddings, self.top_k_names, progress=True)
        return self._aggregate(ids, scores, "dense")

    def tfidf_candidates(self, texts: Sequence[str]) -> CandidateLists:
        scores, ids = self.tfidf.search(texts, self.top_k_names, progress=True)
        return self._aggregate(ids, scores, "tfidf")

    def _aggregate(self, ids: np.ndarray, scores: np.ndarray, generator: str) -> CandidateLists:
        kb = self.kb
        return aggregate_to_concepts(
            ids, scores, kb.name_concept, self.cfg.n_candidates, generator, kb.name_mentions, kb.concept_mentions
        )

    def generate(self, texts: Sequence[str], dense_texts: Sequence[str] | None = None) -> dict[str, CandidateLists]:
        """All lists the configured generator needs; the key ``'final'`` is the one used downstream."""
        out = GENERATORS.get(self.cfg.generator)(self, texts, dense_texts)
        out["final"] = out[self.cfg.generator]
        return out
