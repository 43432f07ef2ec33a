"""Helpers of the mining CLI tests: a split's candidate lists as columns, compared column by column."""

from __future__ import annotations

import json
from pathlib import Path

from xenc_toolkit.mining.pairs import load_candidate_lists


def lists_of(pairs_dir: Path, split: str) -> dict:
    return load_candidate_lists(pairs_dir, split).to_dict()


def same_columns(a: dict, b: dict) -> bool:
    """Equal columns (a gold inserted into a list has a NaN retrieval score: NaN == NaN here)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
