"""The stock sentence-transformers reranker recipe, as its documentation describes it (issue 18's baseline).

What a user who follows the sentence-transformers docs for a CrossEncoder reranker would build:

* pairs ``(mention, positive)`` with ``positive`` the gold concept's name that the bi-encoder finds
  closest to the mention (``--stock-positive closest``) or every name of the gold concept
  (``all``, capped per mention);
* ``sentence_transformers.util.mine_hard_negatives`` with the same bi-encoder over every KB name,
  then every mined "negative" that is a name of the gold concept is dropped (it is a synonym, not a
  negative), keeping ``list_size - 1`` negatives per positive;
* ``CrossEncoder(base, num_labels=1)`` trained by ``CrossEncoderTrainer`` with
  ``BinaryCrossEntropyLoss`` defaults, the same base model, epochs and batch as xenc.

Which variant is reported (positive kind, and whether candidates are shown as the matched name or
the preferred name) is chosen on the held-out training documents, never on the evaluation split.
Only sentence-transformers and the KB object's public methods are used here.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

POSITIVES = ("closest", "all")
MAX_POSITIVES_PER_MENTION = 8


def _gold_concept(kb, mention) -> int | None:
    return kb.resolve(mention.gold_ids[0]) if len(mention.gold_ids) == 1 else None


def training_pairs(train_mentions, kb, bi_encoder, positive: str) -> tuple[list[str], list[str], list[int]]:
    """(anchors, positives, gold concept per pair) for ``positive`` = ``closest`` or ``all``."""
    names = kb.name_list
    anchors, positives, golds = [], [], []
    rows_of = {}
    usable = [(m, c) for m in train_mentions if (c := _gold_concept(kb, m)) is not None]
    if positive == "closest":
        texts = [m.text for m, _ in usable]
        mention_emb = bi_encoder.encode(texts, batch_size=256, convert_to_numpy=True, normalize_embeddings=True)
    for i, (mention, concept) in enumerate(usable):
        rows = rows_of.setdefault(concept, kb.names_of(concept).tolist())
        if not rows:
            continue
        candidates = list(dict.fromkeys(names[r] for r in rows))
        if positive == "closest":
            emb = bi_encoder.encode(candidates, batch_size=256, convert_to_numpy=True, normalize_embeddings=True)
            chosen = [candidates[int(np.argmax(emb @ mention_emb[i]))]]
        else:
            chosen = candidates[:MAX_POSITIVES_PER_MENTION]
        for name in chosen:
            anchors.append(mention.text)
            positives.append(name)
            golds.append(concept)
    return anchors, positives, golds


def train_stock_recipe(
    train_mentions,
    kb,
    *,
    base_model: str,
    positive: str,
    list_size: int,
    epochs: float,
    batch_size: int,
    max_length: int,
    out: Path,
    seed: int = 0,
) -> tuple[str, dict]:
    """Train the documented recipe; returns the model directory and what was done (pairs, filtered synonyms, times)."""
    import torch
    from datasets import Dataset
    from sentence_transformers import CrossEncoder, SentenceTransformer
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
    from sentence_transformers.util import mine_hard_negatives

    started = time.perf_counter()
    bi = SentenceTransformer(base_model)
    anchors, positives, golds = training_pairs(train_mentions, kb, bi, positive)
    corpus = sorted(set(kb.name_list))
    extra = 5  # mined beyond list_size - 1, so that enough remain once the gold's synonyms are dropped
    mined = mine_hard_negatives(
        Dataset.from_dict({"anchor": anchors, "positive": positives}),
        bi,
        corpus=corpus,
        num_negatives=list_size - 1 + extra,
        range_max=100,
        output_format="n-tuple",
        batch_size=256,
        verbose=False,
    )
    names_of_concept: dict[int, set[str]] = {}
    pair_anchor, pair_text, pair_label = [], [], []
    synonyms_dropped = 0
    # mine_hard_negatives drops anchors it finds no negatives for: match rows by (anchor, positive)
    gold_of = {(a, p): g for a, p, g in zip(anchors, positives, golds, strict=True)}
    negative_columns = [c for c in mined.column_names if c.startswith("negative")]
    for row in mined:
        gold = gold_of[(row["anchor"], row["positive"])]
        gold_names = names_of_concept.setdefault(gold, {kb.name_list[r] for r in kb.names_of(gold).tolist()})
        pair_anchor.append(row["anchor"])
        pair_text.append(row["positive"])
        pair_label.append(1.0)
        kept = 0
        for column in negative_columns:
            text = row[column]
            if text in gold_names:
                synonyms_dropped += 1
                continue
            if kept < list_size - 1:
                pair_anchor.append(row["anchor"])
                pair_text.append(text)
                pair_label.append(0.0)
                kept += 1
    train = Dataset.from_dict({"anchor": pair_anchor, "text": pair_text, "label": pair_label})
    mining_s = time.perf_counter() - started
    # fp32 master weights (a base stored in fp16 would otherwise train in fp16 and overflow under bf16 autocast)
    model = CrossEncoder(base_model, num_labels=1, max_length=max_length, model_kwargs={"dtype": torch.float32})
    directory = out / f"stock-{positive}"
    args = CrossEncoderTrainingArguments(
        output_dir=str(directory),
        per_device_train_batch_size=batch_size,
        num_train_epochs=epochs,
        seed=seed,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        logging_steps=100,
        bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
    )
    trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=train, loss=BinaryCrossEntropyLoss(model))
    t = time.perf_counter()
    result = trainer.train()
    model.save_pretrained(str(directory / "model"))
    return str(directory / "model"), {
        "positive": positive,
        "pairs": len(train),
        "positive_pairs": int(sum(pair_label)),
        "gold_synonyms_dropped_from_negatives": synonyms_dropped,
        "mining_seconds": round(mining_s, 1),
        "train_seconds": round(time.perf_counter() - t, 1),
        "train_samples_per_s": result.metrics.get("train_samples_per_second"),
        "settings": {
            "base_model": base_model,
            "loss": "BinaryCrossEntropyLoss (defaults)",
            "mining": f"mine_hard_negatives(range_max=100, num_negatives={list_size - 1 + extra}), gold synonyms "
            f"dropped, {list_size - 1} kept",
            "epochs": epochs,
            "batch_size": batch_size,
            "max_length": max_length,
            "seed": seed,
        },
    }


def shown_texts(kb, lists, shown: str) -> list[list[str]]:
    """Candidate texts for the stock model: the name retrieval matched, or each candidate's preferred name."""
    if shown == "matched_name":
        return [list(names) for names in lists["candidate_names"]]
    return [[kb.preferred_names[kb.resolve(c)] for c in ids] for ids in lists["candidate_ids"]]
