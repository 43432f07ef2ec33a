"""What the one-file dictionary formats share: the file itself is the cache input, no extra settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import MissingInputError


class DictionaryFile:
    @staticmethod
    def inputs(path: Path, cfg) -> list[Path]:
        if not path.is_file():
            raise MissingInputError(path, "dictionary file")
        return [path]

    @staticmethod
    def settings(cfg) -> dict[str, Any]:
        return {}
