"""``fusion``: the dense and TF-IDF lists fused (reciprocal rank or score interpolation; ``candidates.fusion``)."""

from __future__ import annotations

from ..candidates import fuse_lists
from .registry import GENERATORS


@GENERATORS.register("fusion", order=2, needs_dense_index=True)
def fusion(generator, texts, dense_texts=None) -> dict:
    out = {**GENERATORS.get("dense")(generator, texts, dense_texts), **GENERATORS.get("tfidf")(generator, texts)}
    cfg = generator.cfg
    out["fusion"] = fuse_lists(out["dense"], out["tfidf"], cfg.n_candidates, cfg.fusion, cfg.rrf_k, cfg.alpha)
    return out
