"""``umls``: a UMLS Metathesaurus release (a ``META`` directory of RRF files, or its parent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..rrf import MRCONSO
from ..umls import load_umls, umls_files
from .registry import KB_FORMATS


@KB_FORMATS.register("umls", order=0)
class UmlsFormat:
    @staticmethod
    def detect(path: Path) -> bool:
        return path.is_dir() and ((path / MRCONSO.name).is_file() or (path / "META" / MRCONSO.name).is_file())

    @staticmethod
    def inputs(path: Path, cfg) -> list[Path]:
        return list(umls_files(path, load_definitions=cfg.load_definitions, map_retired=cfg.map_retired).values())

    @staticmethod
    def settings(cfg) -> dict[str, Any]:
        return {
            "languages": sorted(cfg.languages),
            "sources": sorted(cfg.sources),
            "exclude_sources": sorted(cfg.exclude_sources),
            "suppress": sorted(cfg.suppress),
            "term_types": sorted(cfg.term_types),
            "load_definitions": cfg.load_definitions,
            "map_retired": cfg.map_retired,
        }

    @staticmethod
    def parse(path: Path, cfg, report):
        return load_umls(
            path,
            languages=cfg.languages,
            sources=cfg.sources,
            exclude_sources=cfg.exclude_sources,
            suppress=cfg.suppress,
            term_types=cfg.term_types,
            semantic_types=cfg.semantic_types,
            semantic_groups=cfg.semantic_groups,
            load_definitions=cfg.load_definitions,
            map_retired=cfg.map_retired,
            report=report,
        )
