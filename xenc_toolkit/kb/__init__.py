"""Knowledge bases: the in-memory model and loaders for UMLS, MEDIC-style and TSV dictionaries.

Most callers need only :func:`load_kb` (any format, cached) and :class:`KnowledgeBase`.
"""

from __future__ import annotations

from .cache import KBCache, cache_key, default_cache_dir
from .dictionary import id_variants, load_medic, load_tsv
from .loader import detect_format, load_kb
from .model import ConceptRecord, KnowledgeBase
from .mrcui import MappingReport, RetiredCuiMap, load_mrcui, map_ids
from .rrf import read_rrf
from .semantic_types import SemanticNetwork, load_semantic_network
from .umls import load_umls, umls_files

__all__ = [
    "ConceptRecord",
    "KBCache",
    "KnowledgeBase",
    "MappingReport",
    "RetiredCuiMap",
    "SemanticNetwork",
    "cache_key",
    "default_cache_dir",
    "detect_format",
    "id_variants",
    "load_kb",
    "load_medic",
    "load_mrcui",
    "load_semantic_network",
    "load_tsv",
    "load_umls",
    "map_ids",
    "read_rrf",
    "umls_files",
]
