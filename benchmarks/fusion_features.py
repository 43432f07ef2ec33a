"""Offline fusion analysis of a quality benchmark's dump: does anything beat ``logit + w x retrieval``?

    python benchmarks/quality_ncbi_disease.py --epochs 3 --synonym-queries 1 --seeds 0,1,2 --dump DIR   # GPU
    python benchmarks/fusion_features.py DIR --name ncbi_disease                                       # CPU, ~1 min

Reads the held-out ("validation") and evaluation ("dev") candidate lists, every seed's reranker logits
on them and the KB that ``quality_common --dump`` wrote, and compares on the evaluation lists, with every
choice fitted on the held-out lists only:

- ``grid``: the toolkit's fusion (``linking.fusion.fit_fusion_weight``) per seed;
- ``ensemble``: the seeds' mean logit, fusion weight refitted;
- ``features``: a conditional logit (softmax over each list, L2 1e-3, L-BFGS) over the reranker logit,
  the retrieval score, exact-name match (case and spacing aside), log(1 + training mentions of the
  (concept, matched name) pair), log(1 + training mentions of the concept) and a first-place flag:
  the entity-linking priors the reranker does not see.

Writes ``benchmarks/results/fusion_features_<name>.json``; the card is the one the dump came from
(``--card``), the analysis itself runs on CPU.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import write_result  # noqa: E402
from benchmarks.quality_common import text_key  # noqa: E402

FEATURES = ("logit", "retrieval_score", "exact_name", "log_name_mentions", "log_concept_mentions", "first_place")


def load_dump(root: Path):
    """(KB, {split: lists as columns}, {split: {seed: [logits per list]}})."""
    import pyarrow.parquet as pq

    from xenc_toolkit.api import KnowledgeBase

    kb = KnowledgeBase.load(root / "kb")
    stored = dict(np.load(root / "logits.npz"))
    lists, logits = {}, {}
    for split in ("validation", "dev"):
        columns = pq.read_table(root / f"lists_{split}.parquet").to_pydict()
        offsets = np.concatenate([[0], np.cumsum([len(ids) for ids in columns["candidate_ids"]])])
        lists[split] = columns
        logits[split] = {
            key.split("_", 1)[1]: [flat[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
            for key, flat in stored.items()
            if key.startswith(f"{split}_")
        }
    return kb, lists, logits


def candidate_features(kb, columns) -> list[np.ndarray]:
    """Per list, one row per candidate: the features after the logit (see FEATURES)."""
    pair_mentions: dict[tuple[int, str], int] = {}
    for concept, name, n in zip(kb.name_concept, kb.name_list, kb.name_mentions, strict=True):
        key = (int(concept), text_key(name))
        pair_mentions[key] = pair_mentions.get(key, 0) + int(n)
    concept_mentions = kb.concept_mentions
    out = []
    for mention, ids, names, scores in zip(
        columns["mention"],
        columns["candidate_ids"],
        columns["candidate_names"],
        columns["retrieval_scores"],
        strict=True,
    ):
        rows = []
        for place, (cid, name, score) in enumerate(zip(ids, names, scores, strict=True)):
            concept = kb.resolve(cid)
            rows.append(
                [
                    0.0 if score is None else score,
                    float(text_key(name) == text_key(mention)),
                    np.log1p(pair_mentions.get((concept, text_key(name)), 0)),
                    np.log1p(concept_mentions[concept]),
                    float(place == 0),
                ]
            )
        out.append(np.asarray(rows, dtype=np.float64).reshape(-1, len(FEATURES) - 1))
    return out


def _padded(blocks: list[np.ndarray], labels=None):
    width, depth = max(len(b) for b in blocks), blocks[0].shape[1]
    x = np.zeros((len(blocks), width, depth))
    mask = np.zeros((len(blocks), width), dtype=bool)
    y = np.zeros((len(blocks), width))
    for i, block in enumerate(blocks):
        x[i, : len(block)], mask[i, : len(block)] = block, True
        if labels is not None:
            y[i, : len(block)] = labels[i]
    return x, mask, y


def fit_conditional_logit(blocks, labels, l2: float = 1e-3):
    """Weights of a softmax-over-the-list model on standardised features (lists without a gold are skipped)."""
    import torch

    x, mask, y = _padded(blocks, labels)
    keep = y.sum(1) > 0
    x, mask, y = x[keep], mask[keep], y[keep]
    mean, std = x[mask].mean(0), x[mask].std(0) + 1e-9
    xt, mt = torch.tensor((x - mean) / std), torch.tensor(mask)
    yt = torch.tensor(y / y.sum(1, keepdims=True))
    w = torch.zeros(x.shape[2], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=200)

    def closure():
        opt.zero_grad()
        z = (xt @ w).masked_fill(~mt, -1e9)
        loss = -(torch.log_softmax(z, 1) * yt).sum(1).mean() + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    weights = w.detach().numpy()
    return (lambda block: ((block - mean) / std) @ weights), weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dump", type=Path, help="the --dump directory of a quality benchmark run")
    parser.add_argument("--name", required=True, help="result name: fusion_features_<name>.json")
    parser.add_argument("--card", default="NVIDIA H100 80GB HBM3", help="card the dump's logits came from")
    args = parser.parse_args()

    from xenc_toolkit.api import fit_fusion_weight, fuse_scores, rerank_ranks

    kb, lists, logits = load_dump(args.dump)
    held, dev = lists["validation"], lists["dev"]
    held_labels, dev_labels = [list(y) for y in held["labels"]], [list(y) for y in dev["labels"]]
    held_features, dev_features = candidate_features(kb, held), candidate_features(kb, dev)
    dev_has_gold = np.asarray(dev["gold_rank"]) >= 0

    def scores(ranks: np.ndarray) -> dict:
        return {
            "acc@1": round(float(np.mean(ranks == 0)), 4),
            "acc@1_given_gold": round(float(np.mean(ranks[dev_has_gold] == 0)), 4),
        }

    def grid(held_logits, dev_logits) -> dict:
        fit = fit_fusion_weight(held_logits, held["retrieval_scores"], held_labels)
        fused = [fuse_scores(a, b, fit["weight"]) for a, b in zip(dev_logits, dev["retrieval_scores"], strict=True)]
        return {
            "weight": fit["weight"],
            "heldout_acc@1": round(fit["acc@1"], 4),
            **scores(rerank_ranks(fused, dev_labels)),
        }

    def learned(held_logits, dev_logits) -> dict:
        stack = lambda lg, fs: [np.column_stack([a, f]) for a, f in zip(lg, fs, strict=True)]  # noqa: E731
        score, weights = fit_conditional_logit(stack(held_logits, held_features), held_labels)
        held_ranks = rerank_ranks([score(b) for b in stack(held_logits, held_features)], held_labels)
        dev_ranks = rerank_ranks([score(b) for b in stack(dev_logits, dev_features)], dev_labels)
        return {
            "weights_standardised": dict(zip(FEATURES, np.round(weights, 3).tolist(), strict=True)),
            "heldout_acc@1": round(float(np.mean(held_ranks == 0)), 4),
            **scores(dev_ranks),
        }

    seeds = sorted(logits["dev"], key=int)
    rows = {seed: {"grid": grid(logits["validation"][seed], logits["dev"][seed])} for seed in seeds}
    for seed in seeds:
        rows[seed]["features"] = learned(logits["validation"][seed], logits["dev"][seed])
    mean = {split: [np.mean(x, axis=0) for x in zip(*logits[split].values(), strict=True)] for split in logits}
    rows["mean_logit"] = {
        "grid": grid(mean["validation"], mean["dev"]),
        "features": learned(mean["validation"], mean["dev"]),
    }
    figures = {
        "retrieval_acc@1": round(float(np.mean(np.asarray(dev["gold_rank"]) == 0)), 4),
        "grid_acc@1_by_seed": [rows[s]["grid"]["acc@1"] for s in seeds],
        "features_acc@1_by_seed": [rows[s]["features"]["acc@1"] for s in seeds],
        "mean_logit_grid_acc@1": rows["mean_logit"]["grid"]["acc@1"],
        "mean_logit_features_acc@1": rows["mean_logit"]["features"]["acc@1"],
        "n_heldout_lists": len(held_labels),
        "n_eval_lists": len(dev_labels),
    }
    write_result(
        f"fusion_features_{args.name}",
        figures,
        {"features": FEATURES, "runs": rows, "analysis_host": "cpu (logits from the card named)"},
        card_name=args.card,
    )


if __name__ == "__main__":
    main()
