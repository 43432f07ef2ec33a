"""The KB format registry (its kinds are the other modules of this package)."""

from __future__ import annotations

from ...utils.registry import Registry

KB_FORMATS: Registry = Registry("KB format", "xenc_toolkit.kb.formats", "kb.format")
