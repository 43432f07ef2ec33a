"""``saved``: a KB saved by :meth:`KnowledgeBase.save` (a directory with ``kb.json``), read as it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..model import KnowledgeBase
from .registry import KB_FORMATS


@KB_FORMATS.register("saved", order=1, cached=False)
class SavedFormat:
    @staticmethod
    def detect(path: Path) -> bool:
        return path.is_dir() and (path / "kb.json").is_file()

    @staticmethod
    def inputs(path: Path, cfg) -> list[Path]:
        return [path]

    @staticmethod
    def settings(cfg) -> dict[str, Any]:
        return {}

    @staticmethod
    def parse(path: Path, cfg, report) -> KnowledgeBase:
        return KnowledgeBase.load(path)
