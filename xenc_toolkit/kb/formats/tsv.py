"""``tsv``: a ``.tsv`` dictionary (``concept_id<TAB>name`` rows; see :func:`~xenc_toolkit.kb.dictionary.load_tsv`)."""

from __future__ import annotations

from pathlib import Path

from ..dictionary import load_tsv
from ._dictionary_file import DictionaryFile
from .registry import KB_FORMATS


@KB_FORMATS.register("tsv", order=2)
class TsvFormat(DictionaryFile):
    @staticmethod
    def detect(path: Path) -> bool:
        return path.is_file() and path.suffix.lower() == ".tsv"

    @staticmethod
    def parse(path: Path, cfg, report):
        return load_tsv(path, report)
