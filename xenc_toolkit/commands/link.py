"""``xenc link``: Stage-3 inference on a text, TSV or JSONL file of mentions."""

from __future__ import annotations

from ..config import LinkConfig
from ..errors import ConfigError, MissingInputError, SkipReport
from ..utils.progress import log
from .inputs import print_skips


def link(cfg: LinkConfig) -> list:
    """Link the mentions of ``cfg.input``; writes ``cfg.output`` (or returns results for stdout)."""
    from ..linking.io import read_link_input, write_link_output
    from ..linking.linker import Linker

    if cfg.input is None:
        raise ConfigError("link: field 'input' is required (text, TSV or JSONL of mentions)")
    report = SkipReport(lenient=cfg.lenient)
    records = read_link_input(cfg.input, cfg.input_format, report)
    print_skips(report)
    if not records:  # an empty input is a valid, empty output (the model is still checked to exist)
        load_cross_encoder_path_check(cfg.model_dir)
        log(f"{cfg.input}: no mentions to link; the output is empty", style="yellow")
        if cfg.output is not None:
            write_link_output([], [], cfg.output, cfg.output_format)
        return []
    linker = Linker.from_pretrained(
        cfg.model_dir,
        cfg.index_dir,
        n_candidates=cfg.n_candidates,
        batch_size=cfg.batch_size,
        precision=cfg.precision,
        allow_mismatch=cfg.allow_mismatch,
    )
    results = linker.link(
        [r.mention for r in records],
        contexts=[r.context for r in records],
        types=[r.types for r in records],
        top_k=cfg.top_k,
    )
    if cfg.output is not None:
        write_link_output(records, results, cfg.output, cfg.output_format)
    return list(zip(records, results, strict=True))


def load_cross_encoder_path_check(model_dir) -> None:
    """The model directory must exist even when there is nothing to link (a typo should not pass silently)."""
    from pathlib import Path

    if not (Path(model_dir) / "config.json").exists():
        raise MissingInputError(model_dir, "CrossEncoder model directory (run `xenc train` first)")
