"""``dense``: nearest KB names to the mention (or mention + context) embedding in the dense index."""

from __future__ import annotations

from .registry import GENERATORS


@GENERATORS.register("dense", order=0, needs_dense_index=True)
def dense(generator, texts, dense_texts=None) -> dict:
    return {"dense": generator.dense(dense_texts or texts)}
