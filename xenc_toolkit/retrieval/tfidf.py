"""Character n-gram TF-IDF candidate generation (as scispacy's), with scikit-learn sparse matrices.

Strings are normalised (:func:`~xenc_toolkit.kb.normalize.normalize_name`) and
vectorised with ``TfidfVectorizer(analyzer="char_wb")``; a query's top-k names are
found by sparse matrix products in query chunks. Exact (no approximation), which
suits KBs up to a few million names on CPU.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from ..kb.normalize import normalize_name
from ..utils.progress import progress_bar


class TfidfIndex:
    """TF-IDF vectors of KB names; ``search`` returns the top-k names per query by cosine."""

    def __init__(self, names: Sequence[str], ngram_range: tuple[int, int] = (3, 3), max_df: float = 1.0):
        self.vectorizer = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=ngram_range,
            lowercase=False,
            dtype=np.float32,
            max_df=max_df,
            sublinear_tf=True,
        )
        normalized = [normalize_name(n) or n.lower() for n in names]
        self.matrix_t = self.vectorizer.fit_transform(normalized).T.tocsr().astype(np.float32)
        self.n = len(names)

    def search(self, queries: Sequence[str], k: int, chunk: int = 1024, progress: bool = False):
        """Top-``k`` (scores float32 [q, k], name ids int64 [q, k]); missing slots are -1 / 0."""
        k = min(k, self.n)
        q = self.vectorizer.transform([normalize_name(t) or t.lower() for t in queries]).tocsr()
        scores = np.zeros((q.shape[0], k), dtype=np.float32)
        ids = np.full((q.shape[0], k), -1, dtype=np.int64)
        with progress_bar("TF-IDF search", total=q.shape[0] if progress else None) as bar:
            for start in range(0, q.shape[0], chunk):
                block = (q[start : start + chunk] @ self.matrix_t).tocsr()
                for row in range(block.shape[0]):
                    lo, hi = block.indptr[row], block.indptr[row + 1]
                    if lo == hi:
                        continue
                    data = block.data[lo:hi]
                    cols = block.indices[lo:hi]
                    if hi - lo > k:
                        part = np.argpartition(-data, k - 1)[:k]
                        data, cols = data[part], cols[part]
                    order = np.lexsort((cols, -data))
                    scores[start + row, : len(order)] = data[order]
                    ids[start + row, : len(order)] = cols[order]
                bar.advance(block.shape[0])
        return scores, ids
