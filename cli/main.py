"""The ``xenc`` command line: thin wrappers over :mod:`xenc_toolkit.api`.

Each subcommand takes ``--config FILE.yaml`` plus one option per config field
(``xenc <command> --help`` lists them). Input and configuration errors print one
line and exit with code 2.
"""

from __future__ import annotations

import os
import sys

import typer

from xenc_toolkit import __version__, api
from xenc_toolkit import config as C

from . import render
from .options import config_command

app = typer.Typer(
    name="xenc",
    help="Fine-tune sentence-transformers CrossEncoders to link biomedical mentions to UMLS concepts.\n\n"
    "Pipeline: \\[tune-encoder] -> build-index -> mine -> train -> \\[calibrate] -> evaluate; link for Stage-3 inference; "
    "quickstart runs it all offline on bundled MedMentions data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _build_index(cfg: C.BuildIndexConfig) -> None:
    render.index_summary(api.build_index(cfg))


def _tune_encoder(cfg: C.TuneEncoderConfig) -> None:
    render.tuning_summary(api.tune_encoder(cfg))


def _mine(cfg: C.MineConfig) -> None:
    render.mining_summary(api.mine(cfg))


def _train(cfg: C.TrainConfig) -> None:
    from xenc_toolkit.training.distributed import is_main_process

    summary = api.train(cfg)
    if is_main_process():  # under torchrun / accelerate launch, print the summary once
        render.training_summary(summary)


def _evaluate(cfg: C.EvaluateConfig) -> None:
    render.evaluation_summary(api.evaluate(cfg), cfg.output_dir)


def _calibrate(cfg: C.CalibrateConfig) -> None:
    render.calibration_summary(api.calibrate(cfg))


def _link(cfg: C.LinkConfig) -> None:
    from xenc_toolkit.linking.io import format_jsonl

    pairs = api.link(cfg)
    if cfg.output is None:
        records, results = zip(*pairs, strict=True) if pairs else ((), ())
        sys.stdout.write(format_jsonl(records, results))
    else:
        render.out.print(f"linked {len(pairs):,} mentions -> {cfg.output}")


def _stats(cfg: C.StatsConfig) -> None:
    from xenc_toolkit.corpora import render_stats

    for table in render_stats(api.stats(cfg)):
        render.out.print(table)


def _quickstart(cfg: C.QuickstartConfig) -> None:
    render.quickstart_summary(api.quickstart(cfg))


COMMANDS = [
    (
        "tune-encoder",
        C.TuneEncoderConfig,
        _tune_encoder,
        "Optional: fine-tune the bi-encoder on the KB's synonyms (SapBERT-style), then build-index with it.",
    ),
    ("build-index", C.BuildIndexConfig, _build_index, "Embed every KB name with a bi-encoder and build the index."),
    ("mine", C.MineConfig, _mine, "Candidates + positive/hard/type/random negative pairs for each mention."),
    ("train", C.TrainConfig, _train, "Fine-tune a sentence-transformers CrossEncoder on mined pairs."),
    ("evaluate", C.EvaluateConfig, _evaluate, "Linking accuracy, pair metrics, calibration, plots and a report."),
    ("calibrate", C.CalibrateConfig, _calibrate, "Fit probability calibration and per-type thresholds."),
    ("link", C.LinkConfig, _link, "Link mentions from a text/TSV/JSONL file (Stage-3 inference)."),
    ("stats", C.StatsConfig, _stats, "Corpus and KB statistics: mentions, concepts, KB coverage."),
    (
        "quickstart",
        C.QuickstartConfig,
        _quickstart,
        "Run the whole pipeline offline on bundled MedMentions data (CPU, a few minutes).",
    ),
]

for _name, _model, _run, _help in COMMANDS:
    app.command(_name, help=_help)(config_command(_model, _run))


@app.command("version")
def version() -> None:
    """Print the xenc-toolkit version."""
    typer.echo(__version__)


def _quiet_third_party() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    import logging
    import warnings

    warnings.filterwarnings("ignore", message=".*pin_memory.*")
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    try:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass
    try:
        import datasets

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``xenc`` console script."""
    _quiet_third_party()
    app(args=argv)


if __name__ == "__main__":
    main()
