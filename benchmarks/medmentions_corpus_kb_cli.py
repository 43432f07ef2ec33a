"""README's "KB built from the corpus" recipe, end to end through the CLI alone, on MedMentions.

    python benchmarks/medmentions_corpus_kb_cli.py [--epochs 1] [--folds 4]

Data: the shared MedMentions dev file (token BIO with CUIs, no document ids), split into
contiguous sentence blocks: train 70% / validation 10% / dev 20% ("MedMentions val"). Steps, each
a ``python -m cli`` subprocess (exactly what a user types): ``build-kb`` (train mentions) ->
``build-index`` -> ``mine --cross-fit-folds 4`` -> ``train`` (listwise) -> ``calibrate``
(validation) -> ``evaluate`` (dev, never fitted on). Writes ``medmentions_corpus_kb_cli.json``
(issue 23: the recipe, each step's wall time, the held-out figures) and ``confidence_medmentions.json``
(issue 19: P(top-1 correct), selective linking and NIL figures of the same run) into
``$XENC_RESULTS_DIR`` (default benchmarks/results).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.cli_recipe import confidence_figures, data_dir, model_path, write_result, xenc  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--model", default=None, help="encoder and reranker base (default: the offline MiniLM)")
    parser.add_argument("--max-sentences", type=int, default=None, help="first N sentences only (CPU runs)")
    parser.add_argument("--work", default=None)
    args = parser.parse_args()

    work = Path(args.work or tempfile.mkdtemp(prefix="xenc-mm-corpus-kb-"))
    work.mkdir(parents=True, exist_ok=True)
    corpus = data_dir() / "medmentions" / "full_dev_bio_cui.tsv"
    if args.max_sentences:
        head, sentences = [], 0
        with open(corpus, "rb") as handle:
            for raw in handle:
                head.append(raw)
                if raw.strip(b"\r\n") in (b"\t", b""):
                    sentences += 1
                    if sentences >= args.max_sentences:
                        break
        corpus = work / "head.bio"
        corpus.write_bytes(b"".join(head))
    model = model_path(args.model)
    c = [
        "--corpus-path",
        corpus,
        "--corpus-bio-split",
        "train=0.7,validation=0.1,dev=0.2",
        "--corpus-types-file",
        data_dir() / "cui-semantic-types" / "cui_to_tuis.json",
    ]
    steps: list[dict] = []
    xenc("build-kb", *c, "--output-dir", work / "kb", "-q", log=steps)
    xenc(
        "build-index",
        "--kb-path",
        work / "kb",
        "--encoder-model",
        model,
        "--output-dir",
        work / "index",
        "-q",
        log=steps,
    )
    xenc(
        "mine",
        "--index-dir",
        work / "index",
        *c,
        "--splits",
        "train,validation,dev",
        "--cross-fit-folds",
        args.folds,
        "--candidates-n-candidates",
        args.k,
        "--no-negatives-same-name-filter",
        "--output-dir",
        work / "pairs",
        "-q",
        log=steps,
    )
    xenc(
        "train",
        "--pairs-dir",
        work / "pairs",
        "--output-dir",
        work / "training",
        "--base-model",
        model,
        "--loss",
        "listwise",
        "--list-size",
        args.k,
        "--epochs",
        args.epochs,
        "--batch-size",
        32,
        "--report-to",
        "none",
        "--dev-split",
        "validation",
        "-q",
        log=steps,
    )
    best = work / "training" / "best"
    xenc("calibrate", "--model-dir", best, "--pairs-dir", work / "pairs", "--split", "validation", "-q", log=steps)
    xenc(
        "evaluate",
        "--model-dir",
        best,
        "--pairs-dir",
        work / "pairs",
        "--split",
        "dev",
        "--output-dir",
        work / "results",
        "-q",
        log=steps,
    )

    results = json.loads((work / "results" / "evaluation_results.json").read_text())
    mining = json.loads((work / "pairs" / "mining_report.json").read_text())
    linking, retrieval = results["linking_metrics"], results["retrieval_metrics"]
    train = mining["splits"]["train"]
    depth = results["counts"]["candidate_depth"]
    figures = {
        "xenc_acc1": linking["acc@1"],
        "retrieval_acc1": linking["retrieval_acc@1"],
        "reranker_alone_acc1": linking["reranker_only_acc@1"],
        "fusion_weight": linking["fusion_weight"],
        f"recall_at_{depth}": retrieval.get(f"recall@{depth}"),
        "eval_mentions": results["counts"]["mentions"],
        "eval_gold_not_in_kb": results["counts"]["gold_not_in_kb"],
        "train_mentions": train["mentions"],
        "train_gold_without_names": train.get("gold_without_names"),
        "concepts_without_names_per_fold": [h["concepts_without_names"] for h in mining["cross_fitted"]["held_out"]],
        "total_seconds": round(sum(s["seconds"] for s in steps), 1),
    }
    details = {"steps": steps, "corpus": str(corpus), "model": model, "kb": mining.get("kb")}
    write_result("medmentions_corpus_kb_cli", figures, details)
    confidence = confidence_figures(results)
    write_result("confidence_medmentions", confidence, {**details, "selective": results["selective"]})
    print(json.dumps(confidence, indent=1))
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
