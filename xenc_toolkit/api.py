"""The Python API: one function per ``xenc`` subcommand, each taking that command's config, and the
Stage-3 :class:`Linker`.

::

    from xenc_toolkit import api
    from xenc_toolkit.config import BuildIndexConfig, load_config

    cfg = load_config(BuildIndexConfig, "examples/configs/medmentions_umls.yaml", {"encoder.batch_size": 2048})
    api.build_index(cfg)

    linker = api.Linker.from_pretrained("xenc-output/model", "xenc-output/index")

The functions live in :mod:`xenc_toolkit.commands` (one module per command); the CLI calls the
same ones. Nothing is imported until it is used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "build_kb": "commands.build_kb",
    "build_index": "commands.build_index",
    "tune_encoder": "commands.tune_encoder",
    "mine": "commands.mine",
    "train": "commands.train",
    "calibrate": "commands.calibrate",
    "evaluate": "commands.evaluate",
    "link": "commands.link",
    "stats": "commands.stats",
    "quickstart": "commands.quickstart",
    "quickstart_data": "commands.quickstart",
    "offline_model_path": "commands.quickstart",
    "Linker": "linking.linker",
    "LinkResult": "linking.linker",
    "KnowledgeBase": "kb.model",
    "load_kb": "kb.loader",
    "DenseIndex": "retrieval.dense_index",
    "PairScorer": "reranker.scorer",
    "Calibration": "calibration.bundle",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"xenc_toolkit.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
