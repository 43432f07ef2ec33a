"""Exceptions and the lenient-parsing skip report.

Every error caused by user input derives from :class:`XencError`. The CLI turns
these into one red line and exit code 2, never a traceback.

Line-level input problems are :class:`InputFormatError`: they always carry the
file and (1-based) line number and say what was expected. Parsers accept a
:class:`SkipReport`; when the user asks for leniency (``--corpus-lenient``, ``--kb-lenient``) a line error
is recorded there (counted by reason, with the first few examples kept) instead of
being raised, and the report is printed at the end. Nothing is dropped silently.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


class XencError(Exception):
    """Base class for errors caused by user input or configuration."""


class ConfigError(XencError):
    """A configuration field is missing or invalid."""


class InputFormatError(XencError):
    """A line of an input file does not have the expected format."""

    def __init__(self, path: str | Path, line: int | None, message: str, expected: str | None = None):
        self.path = str(path)
        self.line = line
        self.message = message
        self.expected = expected
        where = f"{self.path}:{line}" if line is not None else self.path
        text = f"{where}: {message}"
        if expected:
            text += f" (expected {expected})"
        super().__init__(text)


class MissingInputError(XencError):
    """An input file or directory does not exist."""

    def __init__(self, path: str | Path, what: str = "file"):
        self.path = str(path)
        super().__init__(f"{path}: {what} not found")


class IncompatibleArtifactError(XencError):
    """An index, model or cache was built for a different encoder/KB than the one in use."""


class ArtifactMismatchError(IncompatibleArtifactError):
    """Two artefacts a command combines were made from different inputs (their provenance records differ)."""


@dataclass
class SkipReport:
    """Counts lines skipped when lenient (``--corpus-lenient``, ``--kb-lenient``), by reason, keeping a few examples.

    A parser given ``lenient=False`` raises instead of recording.
    """

    lenient: bool = False
    max_examples: int = 5
    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    notes: Counter = field(default_factory=Counter)
    note_examples: dict[str, list[str]] = field(default_factory=dict)

    def handle(self, error: InputFormatError, reason: str | None = None) -> None:
        """Raise ``error`` or, when lenient, count it under ``reason``."""
        if not self.lenient:
            raise error
        key = reason or error.message.split(":")[0]
        self.counts[key] += 1
        kept = self.examples.setdefault(key, [])
        if len(kept) < self.max_examples:
            kept.append(str(error))

    def note(self, reason: str, example: str) -> None:
        """Count well-formed input that is deliberately not used (a duplicate document, a relation line).

        Never raises, also in strict mode; reported separately from lenient skips.
        """
        self.notes[reason] += 1
        kept = self.note_examples.setdefault(reason, [])
        if len(kept) < self.max_examples:
            kept.append(example)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def merge(self, other: SkipReport) -> None:
        for mine, theirs, my_examples, their_examples in (
            (self.counts, other.counts, self.examples, other.examples),
            (self.notes, other.notes, self.note_examples, other.note_examples),
        ):
            mine.update(theirs)
            for key, values in their_examples.items():
                kept = my_examples.setdefault(key, [])
                kept.extend(values[: max(0, self.max_examples - len(kept))])

    def to_dict(self) -> dict:
        return {
            "skipped": self.total,
            "by_reason": dict(self.counts),
            "examples": self.examples,
            "notes": dict(self.notes),
            "note_examples": self.note_examples,
        }

    def summary_lines(self) -> list[str]:
        lines: list[str] = []
        for header, counts, examples in (
            (
                f"skipped {self.total} bad line(s) (lenient: --corpus-lenient / --kb-lenient):",
                self.counts,
                self.examples,
            ),
            (f"not used, by design ({sum(self.notes.values())}):", self.notes, self.note_examples),
        ):
            if not counts:
                continue
            lines.append(header)
            for reason, count in counts.most_common():
                lines.append(f"  {count:>8}  {reason}")
                for example in examples.get(reason, [])[:2]:
                    lines.append(f"            e.g. {example}")
        return lines
