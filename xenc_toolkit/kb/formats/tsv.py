"""``tsv``: a ``.tsv`` dictionary (``concept_id<TAB>name`` rows; see :func:`~xenc_toolkit.kb.dictionary.load_tsv`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import MissingInputError
from ..dictionary import load_tsv
from .registry import KB_FORMATS


@KB_FORMATS.register("tsv", order=2)
class TsvFormat:
    @staticmethod
    def detect(path: Path) -> bool:
        return path.is_file() and path.suffix.lower() == ".tsv"

    @staticmethod
    def inputs(path: Path, cfg) -> list[Path]:
        if not path.is_file():
            raise MissingInputError(path, "dictionary file")
        return [path]

    @staticmethod
    def settings(cfg) -> dict[str, Any]:
        return {}

    @staticmethod
    def parse(path: Path, cfg, report):
        return load_tsv(path, report)
