"""Load the knowledge base a :class:`~xenc_toolkit.config.KBConfig` describes, through the cache.

Formats (``kb.format``; ``auto`` detects them in this order):

- ``umls``: a directory holding ``MRCONSO.RRF`` (or a release directory holding ``META/``);
- ``saved``: a directory holding ``kb.json`` (written by :meth:`KnowledgeBase.save`; read as is);
- ``tsv``: a file ending in ``.tsv``;
- ``medic``: any other file (MEDIC/BioSyn style).

The UMLS filters (languages, sources, suppress, term types) apply to ``umls`` only; the
semantic type/group filters apply to every format whose concepts carry types.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError, MissingInputError, SkipReport
from ..settings import KBConfig
from ..utils.progress import log
from .cache import KBCache, cache_key, report_from_metadata, report_to_metadata
from .formats import KB_FORMATS
from .model import KnowledgeBase
from .rrf import MRCONSO


def detect_format(path: str | Path) -> str:
    """The KB format of ``path``: the first registered format (:mod:`.formats`) that recognises it."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(path, "knowledge base")
    for name in KB_FORMATS.names():
        if KB_FORMATS.get(name).detect(path):
            return name
    raise ConfigError(
        f"{path}: cannot tell the KB format of this directory "
        f"(no {MRCONSO.name}, META/{MRCONSO.name} or kb.json); set kb.format"
    )


def _settings(fmt: str, cfg: KBConfig, lenient: bool) -> dict[str, Any]:
    """Every setting that changes what ``fmt`` loads (the cache key)."""
    settings: dict[str, Any] = {
        "format": fmt,
        "lenient": lenient,
        "semantic_types": sorted(cfg.semantic_types),
        "semantic_groups": sorted(cfg.semantic_groups),
    }
    settings.update(KB_FORMATS.get(fmt).settings(cfg))
    return settings


def _parse(fmt: str, path: Path, cfg: KBConfig, report: SkipReport) -> KnowledgeBase:
    kb = KB_FORMATS.get(fmt).parse(path, cfg, report)
    return kb if fmt == "umls" else _filter_types(kb, cfg)  # UMLS filters types while reading MRSTY


def _filter_types(kb: KnowledgeBase, cfg: KBConfig) -> KnowledgeBase:
    """Apply the semantic type/group filters to a non-UMLS KB."""
    if not cfg.semantic_types and not cfg.semantic_groups:
        return kb
    if not any(kb.concept_types):
        raise ConfigError(
            f"{kb.metadata.get('path')}: kb.semantic_types/semantic_groups need typed concepts, "
            f"but this {kb.metadata.get('source')} KB has no types"
        )
    filtered = kb.filter_types(cfg.semantic_types, cfg.semantic_groups)
    if not filtered.n_concepts:
        present = sorted({t for types in kb.concept_types for t in types})
        shown = ", ".join(present[:12]) + (", ..." if len(present) > 12 else "")
        raise ConfigError(
            f"{kb.metadata.get('path')}: no concept left after the semantic filter (kb.semantic_types "
            f"{list(cfg.semantic_types)}, kb.semantic_groups {list(cfg.semantic_groups)}); "
            f"its {kb.n_concepts:,} concepts have the types {shown}"
        )
    log(f"semantic filter kept {filtered.n_concepts:,} of {kb.n_concepts:,} concepts")
    filtered.metadata["counts"] = {
        **kb.metadata.get("counts", {}),
        "concepts_dropped_by_semantic_filter": kb.n_concepts - filtered.n_concepts,
    }
    return filtered


def load_kb(cfg: KBConfig, report: SkipReport | None = None, *, use_cache: bool = True) -> KnowledgeBase:
    """Load the KB of ``cfg`` (parsing it, or reading the cached copy of an identical earlier load).

    Args:
        cfg: where the KB comes from (``path``, ``format``) and its filters.
        report: receives the bad lines skipped when lenient (``cfg.lenient`` or a lenient report);
            skips recorded when a cached KB was built are replayed into it on a cache hit.
        use_cache: set False to always parse (nothing is read from or written to the cache).

    The returned KB's ``metadata["cache"]`` tells whether the cache was used and where it lives.
    """
    if cfg.path is None:
        raise ConfigError("kb.path is required: a UMLS META directory, a dictionary file or a saved KB")
    path = Path(cfg.path).expanduser()
    fmt = detect_format(path) if cfg.format == "auto" else cfg.format
    if not path.exists():
        raise MissingInputError(path, "knowledge base")
    if not KB_FORMATS.entry(fmt).meta.get("cached", True):
        return _filter_types(KB_FORMATS.get(fmt).parse(path, cfg, report), cfg)

    lenient = cfg.lenient or (report is not None and report.lenient)
    inputs = KB_FORMATS.get(fmt).inputs(path, cfg)
    key = cache_key(fmt, inputs, _settings(fmt, cfg, lenient))
    cache = KBCache(cfg.cache_dir)
    started = time.perf_counter()
    kb = cache.get(fmt, key) if use_cache else None
    if kb is not None:
        if report is not None:
            report.merge(report_from_metadata(kb.metadata.get("skipped")))
        kb.metadata["cache"] = {"hit": True, "path": str(cache.path(fmt, key))}
        return kb

    local = SkipReport(lenient=lenient)
    kb = _parse(fmt, path, cfg, local)
    kb.metadata["load_seconds"] = round(time.perf_counter() - started, 3)
    if local.total or local.notes:
        kb.metadata["skipped"] = report_to_metadata(local)
    if local.total:
        log(f"skipped {local.total:,} bad line(s) while loading the KB (lenient)", style="yellow")
    if report is not None:
        report.merge(local)
    written = cache.put(fmt, key, kb) if use_cache else None
    kb.metadata["cache"] = {"hit": False, "path": str(written) if written else None}
    return kb
