"""The loss registry (``loss`` in ``xenc train``): its kinds are the other modules of this package.

Each loss registers ``inputs="pairs"`` (one (query, candidate) pair per example, label 0/1) or
``inputs="lists"`` (one mention with its candidate list per example), and ``options``: the
training settings its constructor takes by name (e.g. ``pos_weight``).
"""

from __future__ import annotations

from ...utils.registry import Registry

LOSSES: Registry = Registry("loss", "xenc_toolkit.training.losses", "loss")
