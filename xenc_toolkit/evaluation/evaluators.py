"""Evaluators for training (sentence-transformers ``SentenceEvaluator`` subclasses returning metric dicts)."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence

import numpy as np
from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator

from ..reranker.ranking import rerank_ranks
from ..reranker.scorer import PairScorer, score_candidate_lists
from .metrics import calibration_errors, linking_metrics, pair_metrics


class LinkingEvaluator(SentenceEvaluator):
    """Reranks each mention's candidate list with the model and reports linking and pair metrics.

    Metrics (prefixed with ``name``): ``acc@1``, ``recall@5``, ``mrr`` of the reranked lists,
    ``retrieval_acc@1`` of the retrieval order, and over all (mention, candidate) pairs
    ``f1``, ``roc_auc``, ``pr_auc`` and ``ece`` at probability ``sigmoid(logit)``. Mentions
    whose gold is not among their candidates count as misses. The primary metric is ``acc@1``.

    Args:
        queries: one formatted query per mention.
        candidate_texts: the formatted candidates of each mention, in retrieval order.
        labels: 1 for gold candidates, else 0, per candidate.
        retrieval_ranks: rank of the gold in retrieval order (-1 if absent); default from ``labels``.
    """

    def __init__(
        self,
        queries: Sequence[str],
        candidate_texts: Sequence[Sequence[str]],
        labels: Sequence[Sequence[int]],
        retrieval_ranks: Sequence[int] | None = None,
        name: str = "dev",
        batch_size: int = 256,
        precision: str = "auto",
        write_csv: bool = True,
    ):
        super().__init__()
        self.queries = list(queries)
        self.candidate_texts = [list(c) for c in candidate_texts]
        self.labels = [list(y) for y in labels]
        if retrieval_ranks is None:
            retrieval_ranks = [next((i for i, y in enumerate(ys) if y), -1) for ys in self.labels]
        self.retrieval_ranks = np.asarray(retrieval_ranks, dtype=np.int64)
        self.name = name
        self.batch_size = batch_size
        self.precision = precision
        self.write_csv = write_csv
        self.primary_metric = "acc@1"
        self.greater_is_better = True
        self.n_candidates = max((len(c) for c in self.candidate_texts), default=1)
        self.csv_file = f"linking_evaluation_{name}_results.csv"
        self._scorer: PairScorer | None = None
        self._scorer_key: tuple | None = None

    @classmethod
    def from_candidate_lists(cls, dataset, name: str = "dev", max_mentions: int | None = None, **kwargs):
        """Build from the ``candidates/<split>`` dataset written by ``xenc mine``."""
        if max_mentions is not None and len(dataset) > max_mentions:
            dataset = dataset.select(range(max_mentions))
        return cls(
            dataset["query"], dataset["candidate_texts"], dataset["labels"], dataset["gold_rank"], name=name, **kwargs
        )

    def _scorer_for(self, model) -> PairScorer:
        """One scorer per model and device (its pair tokenizer probes the tokenizer once, not every evaluation)."""
        key = (id(model), str(model.device))
        if self._scorer_key != key:
            self._scorer = PairScorer(model, batch_size=self.batch_size, precision=self.precision)
            self._scorer_key = key
        return self._scorer

    def __call__(self, model, output_path: str | None = None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
        scorer = self._scorer_for(model)
        logits = score_candidate_lists(scorer, self.queries, self.candidate_texts)
        ranks = rerank_ranks(logits, self.labels)
        link = linking_metrics(ranks, n_candidates=self.n_candidates, ks=(1, 5))
        retrieval = linking_metrics(self.retrieval_ranks, n_candidates=self.n_candidates, ks=(1,))
        flat_logits = np.concatenate(logits) if logits else np.zeros(0)
        flat_labels = np.asarray([y for ys in self.labels for y in ys], dtype=np.int64)
        probs = 1.0 / (1.0 + np.exp(-flat_logits.astype(np.float64)))
        pairs = pair_metrics(flat_labels, probs, threshold=0.5)
        calib = calibration_errors(flat_labels, probs)
        metrics = {
            "acc@1": link["acc@1"],
            "recall@5": link.get("recall@5", link["acc@1"]),
            "mrr": link["mrr"],
            "retrieval_acc@1": retrieval["acc@1"],
            "f1": pairs["f1"],
            "roc_auc": pairs["roc_auc"] if pairs["roc_auc"] is not None else float("nan"),
            "pr_auc": pairs["pr_auc"] if pairs["pr_auc"] is not None else float("nan"),
            "ece": calib["ece"],
        }
        if output_path is not None and self.write_csv:
            path = os.path.join(output_path, self.csv_file)
            new = not os.path.isfile(path)
            with open(path, "a", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                if new:
                    writer.writerow(["epoch", "steps", *metrics])
                writer.writerow([epoch, steps, *metrics.values()])
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics
