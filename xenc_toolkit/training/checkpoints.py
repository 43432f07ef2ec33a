"""Trainer checkpoints in an output directory."""

from __future__ import annotations

import re
from pathlib import Path


def latest_checkpoint(output_dir: Path) -> Path | None:
    checkpoints = [p for p in output_dir.glob("checkpoint-*") if re.fullmatch(r"checkpoint-\d+", p.name)]
    if not checkpoints:
        return None
    return max(checkpoints, key=lambda p: int(p.name.split("-")[1]))
