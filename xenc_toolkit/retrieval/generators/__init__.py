"""Candidate generators, one module each, registered in :data:`GENERATORS` (``candidates.generator``).

A generator is a function ``(candidate_generator, texts, dense_texts) -> {name: CandidateLists}``
that returns every list it computed, its own under its registered name; it may call the others
through the registry. Register it with ``needs_dense_index=True`` when it searches the dense index.
"""

from .registry import GENERATORS

__all__ = ["GENERATORS"]
