"""Stage-3 inference: the :class:`Linker` and link input/output."""

from .linker import Candidate, Linker, LinkResult

__all__ = ["Candidate", "LinkResult", "Linker"]
