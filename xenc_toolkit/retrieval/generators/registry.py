"""The candidate generator registry (its kinds are the other modules of this package)."""

from __future__ import annotations

from ...utils.registry import Registry

GENERATORS: Registry = Registry("candidate generator", "xenc_toolkit.retrieval.generators", "candidates.generator")
