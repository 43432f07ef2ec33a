"""Provenance records: what an artefact was made from, written with it, compared where artefacts meet.

Every artefact xenc writes carries one record: a saved KB, an index, a pairs directory and a
model directory hold ``xenc_provenance.json`` (:data:`RECORD_FILE`; a model directory names it
through :mod:`xenc_toolkit.reranker.model_dir`), a calibration file embeds its record. A record
is a JSON object::

    provenance_format  1
    kind               kb | index | pairs | model | training | calibration
    id                 a fresh identifier of this artefact (records of later artefacts refer to it)
    created_at, xenc_version
    kb                 checksum, n_concepts, n_names, source of the KB it was made for
    encoder            the bi-encoder of the index (name, revision, pooling, ..., identity: a checksum
                       of a local model directory's files, else name@revision)
    candidates         the candidate generator settings (pairs, model)
    input_format       how queries and candidates were written (pairs, model)
    corpus             the corpus files' checksums (pairs; an index that took names from a corpus)
    sources            the KB's source files (names, sizes and fingerprints)
    inputs             {artefact: {path, id, kind}} of the artefacts it was made from
    config             the command config that made it

Commands that combine artefacts compare the fields both records hold with :func:`require_match`:
a difference is an :class:`~xenc_toolkit.errors.ArtifactMismatchError` naming both artefacts,
their paths and the differing values, unless the command runs with ``--allow-mismatch``
(then a warning). An artefact written before records existed gets a one-line note, once.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ArtifactMismatchError, InputFormatError
from .io import atomic_write_json, to_json
from .progress import log

RECORD_FILE = "xenc_provenance.json"
RECORD_FORMAT = 1
OVERRIDE = "--allow-mismatch (allow_mismatch: true)"

_FULL_HASH_LIMIT = 64 << 20  # files up to 64 MiB are hashed whole, larger ones sampled
_SAMPLE = 4 << 20
_MODEL_FILE_SUFFIXES = (".safetensors", ".bin", ".pt", ".json", ".txt", ".model")


# --------------------------------------------------------------------------- records
def new_record(kind: str, **fields: Any) -> dict[str, Any]:
    """A record of ``kind`` with a fresh id; fields that are None are left out."""
    record: dict[str, Any] = {
        "provenance_format": RECORD_FORMAT,
        "kind": kind,
        "id": uuid.uuid4().hex,
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "xenc_version": __version__,
    }
    record.update({key: value for key, value in fields.items() if value is not None})
    return json.loads(to_json(record))  # plain JSON values (paths, numpy numbers), as read back


def write_record(directory: str | Path, record: dict[str, Any], name: str = RECORD_FILE) -> Path:
    """Write ``record`` into ``directory`` (atomically)."""
    return atomic_write_json(Path(directory) / name, record)


def read_record(directory: str | Path, name: str = RECORD_FILE) -> dict[str, Any] | None:
    """The record in ``directory``; None when there is none (an artefact written before records existed)."""
    path = Path(directory) / name
    if not path.is_file():
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as exc:
        raise InputFormatError(path, exc.lineno, f"not valid JSON ({exc.msg})", "an xenc provenance record") from exc
    except UnicodeDecodeError as exc:
        raise InputFormatError(path, None, f"not UTF-8 text ({exc.reason})", "an xenc provenance record") from exc
    if not isinstance(data, dict) or "kind" not in data:
        raise InputFormatError(path, None, "not a provenance record", "a JSON object with 'kind' and 'id'")
    return data


def reference(path: str | Path | None, record: dict[str, Any] | None) -> dict[str, Any]:
    """How a later record names an input artefact: its path, and its id and kind when it has a record."""
    ref: dict[str, Any] = {"path": None if path is None else str(path)}
    if record is not None:
        ref.update({"id": record.get("id"), "kind": record.get("kind")})
    return ref


def kb_summary(kb) -> dict[str, Any]:
    """The ``kb`` field of a record: what identifies a :class:`~xenc_toolkit.kb.model.KnowledgeBase`."""
    return {
        "checksum": kb.checksum,
        "n_concepts": kb.n_concepts,
        "n_names": kb.n_names,
        "source": kb.metadata.get("source"),
    }


# --------------------------------------------------------------------------- checksums
@functools.lru_cache(maxsize=256)
def _file_sha256(path: str, size: int, mtime_ns: int) -> tuple[str, bool]:
    digest = hashlib.sha256()
    sampled = size > _FULL_HASH_LIMIT
    with open(path, "rb") as handle:
        if not sampled:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        else:  # the size and three 4 MiB samples: cheap for multi-GB UMLS files, still content-based
            digest.update(str(size).encode())
            for offset in (0, size // 2 - _SAMPLE // 2, size - _SAMPLE):
                handle.seek(offset)
                digest.update(handle.read(_SAMPLE))
    return digest.hexdigest(), sampled


def file_checksum(path: str | Path) -> dict[str, Any]:
    """``{file, size, sha256, sampled}`` of a file (whole-file sha256 up to 64 MiB, sampled beyond)."""
    path = Path(path)
    stat = path.stat()
    sha, sampled = _file_sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    return {"file": path.name, "size": stat.st_size, "sha256": sha, "sampled": sampled}


def files_checksum(paths: Mapping[str, str | Path | None], **settings: Any) -> dict[str, Any] | None:
    """Checksums of labelled input files (``{"corpus": path, "split:train": path}``), and one over all of
    them and ``settings`` (independent of where the files are); None when no file is given."""
    files = {label: file_checksum(p) for label, p in sorted(paths.items()) if p is not None and Path(p).is_file()}
    if not files:
        return None
    parts = [f"{label}={entry['sha256']}" for label, entry in files.items()]
    parts += [f"{key}={to_json(value, indent=None)}" for key, value in sorted(settings.items())]
    return {"sha256": hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16], "files": files, **settings}


def model_identity(name: str, revision: str | None = None, local_path: str | Path | None = None) -> str:
    """What identifies a model: a checksum of a local directory's weights and configs, else ``name@revision``."""
    if local_path is not None and Path(local_path).is_dir():
        root = Path(local_path)
        digest = hashlib.sha256()
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in _MODEL_FILE_SUFFIXES and not path.name.startswith(("xenc_", ".")):
                digest.update(str(path.relative_to(root)).encode())
                digest.update(file_checksum(path)["sha256"].encode())
        return f"sha256:{digest.hexdigest()[:16]}"
    return f"{name}@{revision or 'default'}"


# --------------------------------------------------------------------------- comparison
@dataclass(frozen=True)
class Artefact:
    """One side of a comparison: what it is ("model", "index", ...), where it is, and its record.

    ``source``: the file the record was read from (default: ``path``'s :data:`RECORD_FILE` when
    ``path`` is a directory, else ``path``), named in error messages.
    """

    kind: str
    path: str | Path | None
    record: dict[str, Any] | None
    source: str | Path | None = None

    @property
    def where(self) -> str:
        if self.source is not None:
            return str(self.source)
        if self.path is not None and Path(self.path).is_dir():
            return str(Path(self.path) / RECORD_FILE)
        return str(self.path)


@dataclass(frozen=True)
class Check:
    """A field both records must agree on: ``key`` in the first, ``other_key`` (default ``key``) in the
    second; ``shown`` (a key of the same records) is printed next to the compared value, to explain it."""

    label: str
    key: str
    other_key: str | None = None
    shown: str | None = None


def lookup(record: dict[str, Any] | None, key: str) -> Any:
    """The value at a dotted ``key`` of ``record`` (None when any part is missing)."""
    node: Any = record
    for part in key.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _text(value: Any) -> str:
    return to_json(value, indent=None) if isinstance(value, dict | list) else str(value)


def _describe(first: Any, second: Any) -> tuple[str, str]:
    """The two values as text; for dicts, only the entries that differ."""
    if isinstance(first, dict) and isinstance(second, dict):
        keys = [k for k in sorted(set(first) | set(second)) if first.get(k) != second.get(k)]
        return tuple(", ".join(f"{k}={_text(side.get(k))}" for k in keys) for side in (first, second))
    return _text(first), _text(second)


_noted: set[str] = set()


def note_unrecorded(artefact: Artefact, other: Artefact | None = None) -> None:
    """One line (once per artefact) saying it has no record, so it cannot be checked."""
    key = f"{artefact.kind}:{artefact.path}"
    if key in _noted or (artefact.path is not None and not Path(artefact.path).exists()):
        return  # a missing artefact is reported by whatever reads it
    _noted.add(key)
    against = f" against {other.kind} {other.path}" if other is not None else ""
    log(
        f"warning: {artefact.kind} {artefact.path} was written before provenance records ({RECORD_FILE}); "
        f"it is not checked{against} (re-create it to have it checked)",
        style="yellow",
    )


def mismatch(message: str, remedy: str, allow: bool) -> None:
    """Raise :class:`ArtifactMismatchError` (``message; remedy (or pass --allow-mismatch ...)``), or warn when allowed."""
    if allow:
        log(f"warning: {message} (running anyway: --allow-mismatch)", style="yellow")
        return
    raise ArtifactMismatchError(f"{message}; {remedy} (or pass {OVERRIDE} to run anyway)")


def differences(first: Artefact, second: Artefact, checks: Sequence[Check]) -> list[str]:
    """``label: A in <first's record> vs B in <second's record>`` for each check whose values are known and differ."""
    found = []
    for check in checks:
        a, b = lookup(first.record, check.key), lookup(second.record, check.other_key or check.key)
        if a is None or b is None or a == b:
            continue
        texts = list(_describe(a, b))
        for i, side in enumerate((first, second)):
            shown = lookup(side.record, check.shown) if check.shown else None
            if shown is not None:
                texts[i] += f" ({check.shown.rsplit('.', 1)[-1]} {_text(shown)})"
        found.append(f"{check.label} {texts[0]} in {first.where} vs {texts[1]} in {second.where}")
    return found


def require_match(first: Artefact, second: Artefact, checks: Sequence[Check], *, allow: bool, remedy: str) -> bool:
    """Refuse two artefacts whose records differ in any of ``checks`` (see :func:`mismatch`).

    An artefact without a record is noted (:func:`note_unrecorded`) and not checked. Returns
    True when both records were compared and agree.
    """
    for artefact, other in ((first, second), (second, first)):
        if artefact.record is None:
            note_unrecorded(artefact, other)
    if first.record is None or second.record is None:
        return False
    found = differences(first, second, checks)
    if found:
        mismatch(
            f"{first.kind} {first.path} does not match {second.kind} {second.path}: {'; '.join(found)}", remedy, allow
        )
        return False
    return True
