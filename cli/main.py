"""The ``xenc`` command line, generated from :data:`xenc_toolkit.commands.COMMANDS`.

Each subcommand takes ``--config FILE.yaml`` plus one option per config field
(``xenc <command> --help`` lists them). Input and configuration errors print one
line and exit with code 2.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

import typer

from xenc_toolkit import __version__
from xenc_toolkit import config as C
from xenc_toolkit.commands import COMMANDS, Command

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


def _render_train(summary) -> None:
    from xenc_toolkit.training.distributed import is_main_process

    if is_main_process():  # under torchrun / accelerate launch, print the summary once
        render.training_summary(summary)


def _render_link(pairs, cfg: C.LinkConfig) -> None:
    from xenc_toolkit.linking.io import format_jsonl

    if cfg.output is None:
        records, results = zip(*pairs, strict=True) if pairs else ((), ())
        sys.stdout.write(format_jsonl(records, results))
    else:
        render.out.print(f"linked {len(pairs):,} mentions -> {cfg.output}", markup=False, highlight=False)


def _render_stats(result) -> None:
    from xenc_toolkit.evaluation import render_stats

    for table in render_stats(result):
        render.out.print(table)


# how each command's result is shown (the commands themselves come from xenc_toolkit.commands)
RENDERERS = {
    "tune-encoder": lambda result, cfg: render.tuning_summary(result),
    "build-kb": lambda result, cfg: render.out.print(
        f"KB: {result['concepts']:,} concepts, {result['names']:,} names -> {result['output_dir']}",
        markup=False,
        highlight=False,
    ),
    "build-index": lambda result, cfg: render.index_summary(result),
    "mine": lambda result, cfg: render.mining_summary(result),
    "train": lambda result, cfg: _render_train(result),
    "evaluate": lambda result, cfg: render.evaluation_summary(result, cfg.output_dir),
    "calibrate": lambda result, cfg: render.calibration_summary(result),
    "link": _render_link,
    "stats": lambda result, cfg: _render_stats(result),
    "quickstart": lambda result, cfg: render.quickstart_summary(result),
}


def _runner(command: Command):
    def run(cfg) -> None:
        from xenc_toolkit.utils.distributed import is_main_process

        result = command.run(cfg)
        if is_main_process():  # under torchrun, rank 0 shows the result (the others may hold none)
            RENDERERS[command.name](result, cfg)

    return run


for _command in COMMANDS:
    app.command(_command.name, help=_command.help)(config_command(_command.config, _runner(_command)))


@app.command("version")
def version() -> None:
    """Print the xenc-toolkit version."""
    typer.echo(__version__)


def _help_width() -> int:
    """``--help`` at the terminal's width (``COLUMNS`` when set); 200 columns when there is no terminal.

    Rich would otherwise fall back to 80 columns whenever stdout is not a terminal (``| less``).
    """
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    for fd in (1, 2, 0):
        try:
            return os.get_terminal_size(fd).columns
        except OSError:
            continue
    return 200


def _unclipped_flags() -> None:
    """Option names in ``--help`` fold onto the next line in a narrow terminal instead of ending in '…'."""
    from typer import rich_utils

    for name in ("highlighter", "negative_highlighter"):
        base = getattr(rich_utils, name, None)
        if base is None or getattr(base, "_xenc_fold", False):
            continue

        def fold(text, _base=base):
            rendered = _base(text)
            rendered.overflow = "fold"
            return rendered

        fold._xenc_fold = True
        setattr(rich_utils, name, fold)


_unclipped_flags()


def _terminate(signum, frame) -> None:
    """SIGTERM and SIGINT: unwind the command (KeyboardInterrupt) and keep background threads quiet.

    While the command unwinds, its data-loader workers stop; a thread of theirs in this process
    (multiprocessing's resource sharer, handing tensors to a worker) can then see its connection
    torn down and print a traceback that would bury the one-line message. From here on, exceptions
    of background threads are not printed: the command is being stopped anyway.
    """
    sys.excepthook = _silent
    threading.excepthook = _silent
    raise KeyboardInterrupt("SIGTERM" if signum == signal.SIGTERM else "SIGINT")


def _silent(*args) -> None:
    return None


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``xenc`` console script.

    SIGTERM unwinds like Ctrl-C: temporary outputs are removed, worker processes are shut down,
    and the command exits with one line (code 143; 130 for Ctrl-C).
    """
    from typer import rich_utils

    from xenc_toolkit.utils.library_logs import configure

    configure(verbose=False)  # the libraries' own chatter off until --verbose
    rich_utils.MAX_WIDTH = _help_width()
    signal.signal(signal.SIGTERM, _terminate)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _terminate)
    app(args=argv)


if __name__ == "__main__":
    main()
