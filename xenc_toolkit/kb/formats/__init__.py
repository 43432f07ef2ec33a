"""KB formats, one module each, registered in :data:`KB_FORMATS` (``kb.format``).

A format registers a class with four static methods: ``detect(path) -> bool`` (is ``path`` of this
format; formats are tried in registration order), ``inputs(path, cfg) -> [Path]`` (the files the
cache fingerprints), ``settings(cfg) -> dict`` (every setting beyond the shared ones that changes
what it loads) and ``parse(path, cfg, report) -> KnowledgeBase``. Register ``cached=False`` for a
format that is read as it is (a saved KB).
"""

from .registry import KB_FORMATS

__all__ = ["KB_FORMATS"]
