"""``medic``: a MEDIC-style dictionary (``ID[|altID]||name|synonym|...``; the fallback for any other file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import MissingInputError
from ..dictionary import load_medic
from .registry import KB_FORMATS


@KB_FORMATS.register("medic", order=3)
class MedicFormat:
    @staticmethod
    def detect(path: Path) -> bool:
        return path.is_file()

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
        return load_medic(path, report)
