"""Rich progress bars and console output that honour ``--quiet``.

Library code calls :func:`track` / :func:`progress_bar` and :func:`log`; the CLI
sets quiet mode once with :func:`set_quiet` (``--quiet``) and verbose mode with
:func:`set_verbose` (``--verbose``: also the ``log(..., verbose=True)`` details and the
libraries' own warnings, :mod:`~xenc_toolkit.utils.library_logs`). Python API users get
bars by default (``XENC_QUIET=1`` silences them too). Lines are never wrapped, also
when stderr is a file or a pipe.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

T = TypeVar("T")

_state = {"quiet": os.environ.get("XENC_QUIET", "") not in ("", "0"), "verbose": False}
# markup and emoji codes off: messages carry user text (paths, file lines with "[", "]" or ":x:"),
# printed exactly as it is; styling comes from `style=` or rich Text objects only; lines never
# wrapped at 80 columns when stderr is a file or a pipe (soft_wrap)
console = Console(stderr=True, markup=False, emoji=False, soft_wrap=True)


def set_quiet(quiet: bool) -> None:
    _state["quiet"] = bool(quiet)


def is_quiet() -> bool:
    return _state["quiet"]


def set_verbose(verbose: bool) -> None:
    """Show ``log(..., verbose=True)`` details and the libraries' warnings (``--verbose``)."""
    from .library_logs import configure

    _state["verbose"] = bool(verbose)
    configure(verbose=bool(verbose))


def is_verbose() -> bool:
    return _state["verbose"]


def log(message: str, style: str | None = None, verbose: bool = False) -> None:
    """Print a status line to stderr unless quiet; a ``verbose`` detail only under ``--verbose``.

    ``message`` is plain text, never rich markup: a path or an input line holding ``[bold]`` or
    ``[/]`` prints as it is. ``style`` (e.g. ``"yellow"``) colours the whole line.
    """
    if not _state["quiet"] and (_state["verbose"] or not verbose):
        console.print(Text(message, style=style or ""), highlight=False)


def _new_progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", style="bold", markup=False),  # descriptions hold file names
        BarColumn(),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=_state["quiet"] or not sys.stderr,
    )


class _Bar:
    def __init__(self, progress: Progress, task_id):
        self._progress = progress
        self._task = task_id

    def advance(self, amount: float = 1) -> None:
        self._progress.advance(self._task, amount)

    def update(self, **kwargs) -> None:
        self._progress.update(self._task, **kwargs)


@contextlib.contextmanager
def progress_bar(description: str, total: float | None) -> Iterator[_Bar]:
    """A single progress bar as a context manager: ``with progress_bar("x", n) as bar: bar.advance()``."""
    progress = _new_progress()
    with progress:
        task = progress.add_task(description, total=total)
        yield _Bar(progress, task)


def track(iterable: Iterable[T], description: str, total: float | None = None) -> Iterator[T]:
    """Iterate with a progress bar."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with progress_bar(description, total) as bar:
        for item in iterable:
            yield item
            bar.advance(1)
