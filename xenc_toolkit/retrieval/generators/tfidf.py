"""``tfidf``: nearest KB names by character n-gram TF-IDF cosine (no model, robust to spelling)."""

from __future__ import annotations

from .registry import GENERATORS


@GENERATORS.register("tfidf", order=1, needs_dense_index=False)
def tfidf(generator, texts, dense_texts=None) -> dict:
    return {"tfidf": generator.tfidf_candidates(texts)}
