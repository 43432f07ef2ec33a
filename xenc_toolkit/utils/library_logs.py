"""What the libraries underneath (transformers, sentence-transformers, datasets, huggingface_hub) print.

By default only their errors: model-loading reports ("LOAD REPORT", "Converting ... to
CrossEncoder"), their progress bars and their deprecation warnings would bury what matters.
``xenc --verbose`` (:func:`configure` with ``verbose=True``) shows their warnings again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator

LIBRARIES = ("transformers", "sentence_transformers", "datasets", "huggingface_hub", "accelerate", "torch")
_state = {"verbose": False}


def configure(verbose: bool = False) -> None:
    """Their errors only (default), or their warnings too (``verbose``)."""
    _state["verbose"] = bool(verbose)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    level = logging.WARNING if verbose else logging.ERROR
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(level)
    if not verbose:
        for name in LIBRARIES:
            warnings.filterwarnings("ignore", module=rf"{name}(\..*)?")
        warnings.filterwarnings("ignore", message=".*pin_memory.*")
    try:
        import transformers

        transformers.logging.set_verbosity(level)
        if verbose:
            transformers.utils.logging.enable_progress_bar()
        else:
            transformers.utils.logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass
    try:
        import datasets

        datasets.logging.set_verbosity(level)
        if verbose:
            datasets.enable_progress_bars()
        else:
            datasets.disable_progress_bars()
    except ImportError:  # pragma: no cover
        pass


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """Silence transformers' and sentence-transformers' load reports and progress bars while a model loads
    (unless verbose).

    For Python API users, who never passed through :func:`configure`.
    """
    if _state["verbose"]:
        yield
        return
    loggers = [logging.getLogger(name) for name in ("transformers", "sentence_transformers")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.ERROR))
    bars = None
    try:
        from transformers.utils import logging as hf_logging

        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # "Loading weights" bars
    except ImportError:  # pragma: no cover
        pass
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        if bars:
            hf_logging.enable_progress_bar()
