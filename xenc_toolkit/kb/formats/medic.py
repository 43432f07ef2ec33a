"""``medic``: a MEDIC-style dictionary (``ID[|altID]||name|synonym|...``; the fallback for any other file)."""

from __future__ import annotations

from pathlib import Path

from ..dictionary import load_medic
from ._dictionary_file import DictionaryFile
from .registry import KB_FORMATS


@KB_FORMATS.register("medic", order=3)
class MedicFormat(DictionaryFile):
    @staticmethod
    def detect(path: Path) -> bool:
        return path.is_file()

    @staticmethod
    def parse(path: Path, cfg, report):
        return load_medic(path, report)
