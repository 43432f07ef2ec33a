"""Training examples from mined pairs and candidate lists: list cutting and per-kind pair weights."""

from __future__ import annotations


def training_lists(dataset, list_size: int):
    """Keep mentions with a gold candidate; cut lists to ``list_size`` keeping one gold."""

    def cut(row):
        texts, labels = list(row["candidate_texts"]), list(row["labels"])
        if len(texts) > list_size:
            keep_texts, keep_labels = texts[:list_size], labels[:list_size]
            if not any(keep_labels):
                gold = labels.index(1)
                keep_texts[-1], keep_labels[-1] = texts[gold], 1
            texts, labels = keep_texts, keep_labels
        return {"candidate_texts": texts, "labels": labels}

    with_gold = dataset.filter(lambda row: any(row["labels"]), desc="mentions with a gold candidate")
    dropped = len(dataset) - len(with_gold)
    return with_gold.map(cut, desc="cutting candidate lists"), dropped


def with_kind_weights(dataset, kind_weights: dict[str, float]):
    """A ``weight`` column from each pair's negative kind (1.0 for kinds not listed)."""
    return dataset.map(lambda row: {"weight": float(kind_weights.get(row["kind"], 1.0))}, desc="example weights")
