"""Rich tables printed at the end of each command (presentation only)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

out = Console(markup=False, emoji=False)  # cells and lines hold user text (paths, split names): printed verbatim


def _fmt(value: Any) -> Text:
    """A cell as plain text: paths and names from the user's files are never read as rich markup."""
    if value is None:
        return Text("-")
    if isinstance(value, float):
        return Text(f"{value:.4f}")
    if isinstance(value, int):
        return Text(f"{value:,}")
    return Text(str(value))


def key_values(title: str, rows: list[tuple[str, Any]]) -> None:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    for key, value in rows:
        table.add_row(Text(key), _fmt(value))
    out.print(table)


def index_summary(index) -> None:
    manifest = index.manifest
    key_values(
        "xenc build-index",
        [
            ("directory", str(index.directory)),
            ("concepts", manifest["kb"]["n_concepts"]),
            ("names embedded", manifest["kb"]["n_names"]),
            ("encoder", manifest["encoder"]["name"]),
            ("pooling / dimension", f"{manifest['encoder']['pooling']} / {manifest['encoder']['dimension']}"),
            ("index", manifest["index"]["type"]),
            ("KB checksum", manifest["kb"]["checksum"]),
        ],
    )


def tuning_summary(summary: dict) -> None:
    pairs = summary["pairs"]
    training = summary["training"]
    monitor = summary.get("monitor") or {}
    before, after = monitor.get("before") or {}, monitor.get("after") or {}
    rows = [
        ("directory", summary["output_dir"]),
        ("base model", summary["base_model"]),
        ("pooling / dimension", f"{summary['pooling']} / {summary['dimension']}"),
        ("name pairs", pairs.get("name_pairs")),
        ("mention pairs", pairs.get("mention_pairs")),
        ("concepts", pairs.get("concepts")),
        ("steps", training.get("steps")),
        ("batch (pairs)", training.get("batch_size")),
        ("samples / s", training.get("train_samples_per_second")),
        ("train loss", training.get("train_loss")),
    ]
    if before and after:
        rows += [
            (f"in-batch loss ({before['pairs']:,} pairs)", f"{before['loss']:.4f} -> {after['loss']:.4f}"),
            ("in-batch accuracy", f"{before['accuracy']:.4f} -> {after['accuracy']:.4f}"),
        ]
    rows.append(("next", f"xenc build-index --encoder-model {summary['output_dir']}"))
    key_values("xenc tune-encoder", rows)


def mining_summary(report: dict) -> None:
    table = Table(title="xenc mine: candidate recall and pairs", title_justify="left")
    for column in ("split", "mentions", "gold not in KB", "generator", "recall@1", "recall@5", "recall@N", "pairs"):
        table.add_column(column, justify="right" if column not in ("split", "generator") else "left")
    for split, info in report["splits"].items():
        depth = info["candidate_depth"]
        first = True
        for generator, recall in info["recall"].items():
            table.add_row(
                split if first else "",
                _fmt(info["mentions"]) if first else "",
                _fmt(info["gold_not_in_kb"]) if first else "",
                generator,
                _fmt(recall.get("recall@1")),
                _fmt(recall.get("recall@5")),
                f"{_fmt(recall.get(f'recall@{depth}'))} (N={depth})",
                ", ".join(f"{k} {v:,}" for k, v in info["pairs"].items()) if first else "",
            )
            first = False
    out.print(table)
    if report.get("cross_fitted"):
        folds = report["cross_fitted"]
        out.print(
            f"train: cross-fitted in {folds['folds']} document folds ({', '.join(map(str, folds['fold_mentions']))} mentions)"
        )
    filtered = report.get("false_negatives_filtered") or {}
    if any(filtered.values()):
        out.print(f"false negatives filtered (synonyms of the gold): {filtered}", markup=False, highlight=False)


def training_summary(summary: dict) -> None:
    key_values(
        "xenc train",
        [
            ("steps", summary.get("global_step")),
            ("train examples", summary.get("train_examples")),
            ("samples / s", summary.get("train_samples_per_second")),
            (summary.get("metric_for_best_model") or "best metric", summary.get("best_metric")),
            ("stopped early", summary.get("stopped_early")),
            ("best model", summary.get("best_dir")),
            ("final model", summary.get("final_dir")),
        ],
    )


def evaluation_summary(results: dict, output_dir) -> None:
    link, retrieval = results["linking_metrics"], results["retrieval_metrics"]
    depth = results["counts"]["candidate_depth"]
    table = Table(title=f"xenc evaluate ({results['split']}, {link['n_mentions']:,} mentions)", title_justify="left")
    table.add_column("metric", style="bold")
    table.add_column("retrieval", justify="right")
    table.add_column("reranked", justify="right")
    for key in ("acc@1", "recall@5", f"recall@{depth}", "mrr"):
        table.add_row(key, _fmt(retrieval.get(key)), _fmt(link.get(key)))
    out.print(table)
    overall, stage3 = results["overall_metrics"], results["stage3_metrics"]
    key_values(
        "pairs, calibration, Stage 3",
        [
            (
                "pair F1 / precision / recall",
                f"{_fmt(overall['f1'])} / {_fmt(overall['precision'])} / {_fmt(overall['recall'])}",
            ),
            ("ROC-AUC / PR-AUC", f"{_fmt(overall['roc_auc'])} / {_fmt(overall['pr_auc'])}"),
            ("ECE / MCE / Brier", f"{_fmt(overall['ece'])} / {_fmt(overall['mce'])} / {_fmt(overall['brier_score'])}"),
            (f"high confidence (p >= {stage3['threshold']})", f"{_fmt(stage3['high_confidence_pct'])} %"),
            ("mean top probability / margin", f"{_fmt(stage3['mean_top_score'])} / {_fmt(stage3['mean_margin'])}"),
            (
                "gold not in KB / not in candidates",
                f"{results['counts']['gold_not_in_kb']:,} / {results['counts']['gold_not_in_candidates']:,}",
            ),
            ("report", f"{output_dir}/report.md"),
        ],
    )


def calibration_summary(result: dict) -> None:
    rows = [("file", result["path"]), ("method", result["metadata"]["method"])]
    for method, scores in (result.get("cv_report") or {}).items():
        rows.append((f"held-out {method}", ", ".join(f"{k} {_fmt(v)}" for k, v in scores.items() if k != "n_folds")))
    thresholds = result.get("thresholds") or {}
    glob = (thresholds.get("global") or {}).get("threshold")
    rows.append(("global threshold", glob))
    rows.append(("per-type thresholds", len(thresholds.get("types") or {})))
    rows.append(("high-confidence threshold", result.get("high_threshold")))
    key_values("xenc calibrate", rows)


def quickstart_summary(summary: dict) -> None:
    depth_key = next(k for k in summary if k.startswith("recall@"))
    key_values(
        f"xenc quickstart ({summary['n_eval_mentions']} held-out MedMentions mentions)",
        [
            ("retrieval-only acc@1", summary["retrieval_acc@1"]),
            ("reranked acc@1", summary["reranked_acc@1"]),
            ("  reranker alone (no fusion)", summary.get("reranker_only_acc@1")),
            ("  fusion weight w (validation)", summary.get("fusion_weight")),
            ("AURC, xenc P(correct) (lower is better)", summary.get("aurc_xenc")),
            ("AURC, best retrieval confidence", summary.get("aurc_retrieval")),
            ("coverage at precision 0.95", summary.get("coverage_at_precision_095")),
            ("ECE of P(correct)", summary.get("ece_top1")),
            ("NIL AUROC (CUI not in the KB)", summary.get("nil_auroc")),
            (f"candidate {depth_key}", summary[depth_key]),
            ("pair F1", summary["pair_f1"]),
            ("gold CUI not in KB", summary["n_gold_not_in_kb"]),
            ("time (s)", summary["total_s"]),
            ("outputs", summary["output_dir"]),
        ],
    )
    if summary.get("why_test_is_lower"):
        out.print(f"Why test acc@1 is low: {summary['why_test_is_lower']}.", markup=False, highlight=False)
