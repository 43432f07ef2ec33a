"""The TF-IDF candidate generator of an index's KB, built once and saved beside the index.

Fitting the character n-gram vectorizer over every KB name takes seconds on a small KB and
minutes on UMLS; ``xenc link`` and ``xenc mine`` would pay it at every call. The fitted
vocabulary, idf weights and name matrix are saved under ``<index_dir>/tfidf/<key>/``, where
the key covers everything the matrix depends on: this cache's format version, the KB checksum,
the n-gram range, ``max_df`` and the name normalisation's version. A later call with the same
KB and settings loads it (well under a second on the quickstart KB); any change is a new key,
so a stale matrix is never used. An index directory that cannot be written to is only read.

Files of one entry: ``vocabulary.npy`` (n-grams in column order), ``idf.npy``, ``matrix_t.npz``
(names x n-grams, transposed, CSR) and ``meta.json`` (the key's inputs, for people).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..kb.model import KnowledgeBase
from ..utils.io import atomic_directory, atomic_write_json, read_json
from ..utils.progress import log
from .tfidf import TfidfIndex

TFIDF_CACHE_VERSION = 1
NORMALIZATION_VERSION = 1  # bump when kb.normalize.normalize_name changes what it returns


def _vectorizer(ngram_range: tuple[int, int], max_df: float):
    """An unfitted copy of the vectorizer :class:`TfidfIndex` configures for these settings."""
    from sklearn.base import clone

    return clone(TfidfIndex(["abc"], ngram_range, max_df=max_df).vectorizer)


def cache_key(kb_checksum: str, ngram_range: tuple[int, int], max_df: float = 1.0) -> str:
    """A hash of the format version, the KB checksum and every setting of the vectorizer."""
    params = sorted((k, repr(v)) for k, v in _vectorizer(ngram_range, max_df).get_params().items())
    parts = [TFIDF_CACHE_VERSION, NORMALIZATION_VERSION, kb_checksum, params]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def _save(index: TfidfIndex, directory: Path, meta: dict) -> None:
    vectorizer = index.vectorizer
    terms = np.empty(len(vectorizer.vocabulary_), dtype=object)
    for term, column in vectorizer.vocabulary_.items():
        terms[column] = term
    with atomic_directory(directory) as tmp:
        np.save(tmp / "vocabulary.npy", terms.astype(str))
        np.save(tmp / "idf.npy", np.asarray(vectorizer.idf_, dtype=np.float64))
        sp.save_npz(tmp / "matrix_t.npz", index.matrix_t, compressed=False)
        atomic_write_json(tmp / "meta.json", meta)


def _load(directory: Path, ngram_range: tuple[int, int], max_df: float) -> TfidfIndex:
    # a TfidfIndex without refitting: the same vectorizer settings, the saved vocabulary and idf
    index = TfidfIndex.__new__(TfidfIndex)
    vectorizer = _vectorizer(ngram_range, max_df)
    terms = np.load(directory / "vocabulary.npy")
    vectorizer.vocabulary_ = {str(term): column for column, term in enumerate(terms.tolist())}
    vectorizer.idf_ = np.load(directory / "idf.npy")
    index.vectorizer = vectorizer
    index.matrix_t = sp.load_npz(directory / "matrix_t.npz").tocsr().astype(np.float32)
    index.n = int(index.matrix_t.shape[1])
    return index


def cached_tfidf_index(
    kb: KnowledgeBase,
    ngram_range: tuple[int, int] = (3, 3),
    index_dir: str | Path | None = None,
    max_df: float = 1.0,
) -> TfidfIndex:
    """The TF-IDF index of ``kb``'s names: loaded from ``index_dir``'s cache, else built (and saved there).

    Without ``index_dir`` (an in-memory index) it is built and not saved.
    """
    key = cache_key(kb.checksum, ngram_range, max_df)
    directory = Path(index_dir) / "tfidf" / key if index_dir is not None else None
    if directory is not None and (directory / "meta.json").exists():
        meta = read_json(directory / "meta.json")
        if meta.get("key") == key and meta.get("n_names") == kb.n_names:
            index = _load(directory, ngram_range, max_df)
            if index.n == kb.n_names:
                log(f"TF-IDF matrix of {kb.n_names:,} names loaded from {directory}", verbose=True)
                return index
    log(f"building character {ngram_range[0]}-{ngram_range[1]}-gram TF-IDF over {kb.n_names:,} names")
    index = TfidfIndex(kb.name_list, ngram_range, max_df=max_df)
    if directory is not None:
        meta = {
            "key": key,
            "format_version": TFIDF_CACHE_VERSION,
            "kb_checksum": kb.checksum,
            "n_names": kb.n_names,
            "ngram_range": list(ngram_range),
            "max_df": max_df,
        }
        try:
            _save(index, directory, meta)
            log(f"TF-IDF matrix saved to {directory} (loaded from there next time)", verbose=True)
        except OSError as exc:
            log(
                f"TF-IDF matrix not saved ({directory}: {exc.strerror or exc}); it is rebuilt next time", style="yellow"
            )
    return index
