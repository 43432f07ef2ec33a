"""On-disk cache of loaded knowledge bases.

A KB parsed from UMLS RRF files or a dictionary is saved in the KB's own Parquet
format (:meth:`KnowledgeBase.save`, written atomically) under a key computed from
the fingerprints of every input file (:func:`~xenc_toolkit.utils.io.file_fingerprint`:
name, size, mtime in ns, the whole content up to 2 MiB, else the first 2 and last 1 MiB), of
the bundled semantic network, and every setting that changes the result, so editing an input
or a filter makes a new entry and the second identical load only reads Parquet.

Location: ``kb.cache_dir`` when configured, else ``$XENC_CACHE_DIR``, else
``~/.cache/xenc-toolkit/kb``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import SkipReport, XencError
from ..utils.io import file_fingerprint, stable_hash
from ..utils.progress import log
from .model import KB_FORMAT_VERSION, KnowledgeBase
from .semantic_types import _resource_path

CACHE_ENV = "XENC_CACHE_DIR"
CACHE_VERSION = 3
"""Bump when a loader's output changes for the same input and settings (2: byte-order marks dropped;
3: MEDIC concept ids carry their namespace, MESH: or OMIM:)."""
SEMANTIC_NETWORK_FILES = ("SemGroups.txt", "semantic_type_tree.tsv")
"""The bundled semantic network the type and group filters read (part of every key)."""


def default_cache_dir() -> Path:
    """``$XENC_CACHE_DIR`` or ``~/.cache/xenc-toolkit/kb``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "xenc-toolkit" / "kb"


def cache_key(kind: str, files: Iterable[str | Path], settings: Mapping[str, Any]) -> str:
    """Key of a KB built by loader ``kind`` from ``files`` with ``settings``.

    ``files`` must be every file the load reads (MRCONSO, MRSTY, MRDEF when definitions are
    loaded, MRCUI when retired CUIs are mapped; the dictionary file) and ``settings`` every option
    that changes the result; the bundled semantic network is added here.
    """
    fingerprints = [(Path(f).name, file_fingerprint(f)) for f in files]
    network = [(name, file_fingerprint(_resource_path(name))) for name in SEMANTIC_NETWORK_FILES]
    return stable_hash(
        [CACHE_VERSION, KB_FORMAT_VERSION, __version__, kind, fingerprints, network, dict(sorted(settings.items()))]
    )


class KBCache:
    """A directory of cached KBs, one sub-directory per key (``<kind>-<key>``)."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()

    def path(self, kind: str, key: str) -> Path:
        return self.root / f"{kind}-{key}"

    def get(self, kind: str, key: str) -> KnowledgeBase | None:
        """The cached KB, or None when absent or unreadable (an unreadable entry is rebuilt)."""
        path = self.path(kind, key)
        if not (path / "kb.json").is_file():
            return None
        try:
            kb = KnowledgeBase.load(path)
        except (OSError, ValueError, XencError) as error:  # pyarrow errors derive from these
            log(f"ignoring unreadable KB cache {path}: {error}", style="yellow")
            return None
        log(f"KB loaded from cache {path}")
        return kb

    def put(self, kind: str, key: str, kb: KnowledgeBase) -> Path | None:
        """Save ``kb`` under ``key`` (atomically); a cache that cannot be written only logs a warning."""
        path = self.path(kind, key)
        try:
            kb.save(path)
        except OSError as error:
            log(f"could not write KB cache {path}: {error}", style="yellow")
            return None
        log(f"KB cached at {path}")
        return path


def report_to_metadata(report: SkipReport) -> dict[str, Any]:
    """The skips (and notes) of a load, to store with the cached KB."""
    return report.to_dict()


def report_from_metadata(data: Mapping[str, Any] | None) -> SkipReport:
    """A lenient :class:`SkipReport` holding the skips and notes recorded when a cached KB was built."""
    report = SkipReport(lenient=True)
    if data:
        report.counts = Counter(data.get("by_reason", {}))
        report.examples = {k: list(v) for k, v in data.get("examples", {}).items()}
        report.notes = Counter(data.get("notes", {}))
        report.note_examples = {k: list(v) for k, v in data.get("note_examples", {}).items()}
    return report
