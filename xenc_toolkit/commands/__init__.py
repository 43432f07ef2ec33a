"""The ``xenc`` commands: the only place that takes a command config and composes the pipeline stages.

Each command is one module with one function taking its config (``xenc_toolkit.config``).
:data:`COMMANDS` lists them in pipeline order; the CLI (``xenc_toolkit.cli``) is generated from it,
and :mod:`xenc_toolkit.api` re-exports the functions. A command's module is imported only when
the command runs, so ``xenc --help`` stays fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import config as C


@dataclass(frozen=True)
class Command:
    """One ``xenc`` subcommand: its name, config model, implementation (``module:function``) and help line."""

    name: str
    config: type[C.CommonConfig]
    target: str
    help: str

    @property
    def function(self) -> Callable[..., Any]:
        module, function = self.target.split(":")
        return getattr(importlib.import_module(f"{__name__}.{module}"), function)

    def run(self, cfg: C.CommonConfig, **kwargs: Any) -> Any:
        return self.function(cfg, **kwargs)


COMMANDS: tuple[Command, ...] = (
    Command(
        "tune-encoder",
        C.TuneEncoderConfig,
        "tune_encoder:tune_encoder",
        "Optional: fine-tune the bi-encoder on the KB's synonyms (SapBERT-style), then build-index with it.",
    ),
    Command(
        "build-kb",
        C.BuildKbConfig,
        "build_kb:build_kb",
        "Optional: build a KB from an annotated corpus's training mentions (no terminology at hand).",
    ),
    Command(
        "build-index",
        C.BuildIndexConfig,
        "build_index:build_index",
        "Embed every KB name with a bi-encoder and build the index.",
    ),
    Command(
        "mine", C.MineConfig, "mine:mine", "Candidates + positive/hard/type/random negative pairs for each mention."
    ),
    Command("train", C.TrainConfig, "train:train", "Fine-tune a sentence-transformers CrossEncoder on mined pairs."),
    Command(
        "evaluate",
        C.EvaluateConfig,
        "evaluate:evaluate",
        "Linking accuracy, pair metrics, calibration, plots and a report.",
    ),
    Command(
        "calibrate", C.CalibrateConfig, "calibrate:calibrate", "Fit probability calibration and per-type thresholds."
    ),
    Command("link", C.LinkConfig, "link:link", "Link mentions from a text/TSV/JSONL file (Stage-3 inference)."),
    Command("stats", C.StatsConfig, "stats:stats", "Corpus and KB statistics: mentions, concepts, KB coverage."),
    Command(
        "quickstart",
        C.QuickstartConfig,
        "quickstart:quickstart",
        "Run the whole pipeline offline on bundled MedMentions data (CPU, a few minutes).",
    ),
)

BY_NAME: dict[str, Command] = {command.name: command for command in COMMANDS}

__all__ = ["BY_NAME", "COMMANDS", "Command"]
