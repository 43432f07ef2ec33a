"""``xenc link``: Stage-3 inference on a text, TSV or JSONL file of mentions."""

from __future__ import annotations

from ..config import LinkConfig
from ..errors import ConfigError, MissingInputError, SkipReport
from ..utils import distributed
from ..utils.progress import log
from .inputs import print_skips


def link(cfg: LinkConfig) -> list:
    """Link the mentions of ``cfg.input``; writes ``cfg.output`` (or returns results for stdout).

    Under ``torchrun --nproc_per_node N`` each process links a contiguous shard of the mentions on its
    own device and rank 0 writes (and returns) them all in input order; the other ranks return [].
    """
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
        if cfg.output is not None and distributed.is_main_process():
            write_link_output([], [], cfg.output, cfg.output_format)
        return []
    with distributed.process_group():
        linker = Linker.from_pretrained(
            cfg.model_dir,
            cfg.index_dir,
            device=distributed.process_device() if distributed.is_sharded() else None,
            n_candidates=cfg.n_candidates,
            batch_size=cfg.batch_size,
            precision=cfg.precision,
            allow_mismatch=cfg.allow_mismatch,
        )
        results = distributed.map_shards(
            lambda part: linker.link(
                [r.mention for r in part],
                contexts=[r.context for r in part],
                types=[r.types for r in part],
                top_k=cfg.top_k,
            ),
            records,
            merge=distributed.concat_lists,
        )
    if results is None:  # not rank 0 of a torchrun launch: rank 0 writes every shard's results
        return []
    if cfg.output is not None:
        write_link_output(records, results, cfg.output, cfg.output_format)
    return list(zip(records, results, strict=True))


def load_cross_encoder_path_check(model_dir) -> None:
    """The model directory must exist even when there is nothing to link (a typo should not pass silently)."""
    from pathlib import Path

    if not (Path(model_dir) / "config.json").exists():
        raise MissingInputError(model_dir, "CrossEncoder model directory (run `xenc train` first)")
