"""Models named by a Hugging Face Hub id: use the local cache, and fail in seconds when offline.

``transformers`` retries an unreachable Hub for about a minute before it fails. A model id that is
not a local directory is looked up in the local cache first; when it is not cached and the Hub
cannot be reached within a few seconds, :func:`check_model_available` raises a
:class:`~xenc_toolkit.errors.XencError` that says how to get the model there.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from ..errors import XencError

HUB_HOST = "huggingface.co"


def _offline() -> bool:
    return any(
        os.environ.get(v, "") not in ("", "0", "false", "False") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _cached(model: str, revision: str | None) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - a dependency of transformers
        return False
    found = try_to_load_from_cache(model, "config.json", revision=revision)
    return isinstance(found, str)


def _hub_reachable(timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def check_model_available(model: str, revision: str | None = None, what: str = "model") -> None:
    """Return if ``model`` is a local directory, is in the Hugging Face cache, or the Hub answers; else raise."""
    if Path(model).expanduser().exists():
        return
    if _cached(model, revision):
        return
    if _offline():
        raise XencError(
            f"{what} {model!r} is not a local directory and not in the Hugging Face cache, and HF_HUB_OFFLINE is set: "
            f"download it where there is a network (huggingface-cli download {model}) and copy the cache "
            "(~/.cache/huggingface) here, or pass the path of a local copy"
        )
    if not _hub_reachable():
        raise XencError(
            f"{what} {model!r} is not a local directory and not in the Hugging Face cache, and {HUB_HOST} cannot be "
            f"reached: download it where there is a network (huggingface-cli download {model}) and copy the cache "
            "(~/.cache/huggingface) here, or pass the path of a local copy; set HF_HUB_OFFLINE=1 to never try the Hub"
        )


def cached_snapshot(model: str, revision: str | None = None) -> str | None:
    """The directory of a Hub model's snapshot in the local Hugging Face cache (None when not cached).

    Where its own files (a sentence-transformers ``modules.json`` and ``1_Pooling/config.json``)
    can be read without asking the Hub.
    """
    if Path(model).expanduser().exists():
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - a dependency of transformers
        return None
    found = try_to_load_from_cache(model, "config.json", revision=revision)
    return str(Path(found).parent) if isinstance(found, str) else None
