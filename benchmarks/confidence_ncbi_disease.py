"""P(top-1 correct), selective linking and NIL on NCBI-disease dev, through the CLI alone (issue 19).

    python benchmarks/confidence_ncbi_disease.py [--epochs 3] [--nil-concepts 0.1]

The default CLI recipe on NCBI-disease: KB = MEDIC plus the training mentions' names
(``build-index --add-training-mentions``), training lists cross-fitted in 4 folds with one KB
synonym query per concept, listwise training, ``xenc calibrate`` on the held-out training
documents (the last 10% of the training file, never trained on), ``xenc evaluate`` on dev.
NCBI-disease's dev concepts are all in MEDIC; for the NIL figures a second KB leaves out
``--nil-concepts`` (10%) of the dev gold concepts (and the training mentions that name them are
not added), and the same model is calibrated and evaluated against it: those dev mentions are NIL.
Writes ``confidence_ncbi_disease.json`` (figures of the full-KB run, NIL figures of the reduced
one) into ``$XENC_RESULTS_DIR`` (default benchmarks/results).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.cli_recipe import confidence_figures, data_dir, model_path, write_result, xenc  # noqa: E402


def pubtator_documents(path: Path) -> list[list[str]]:
    """The corpus's documents as blocks of lines (PubTator: a blank line between documents)."""
    docs, block = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            block.append(line)
        elif block:
            docs.append(block)
            block = []
    if block:
        docs.append(block)
    return docs


def gold_ids(doc: list[str]) -> set[str]:
    out = set()
    for line in doc[2:]:
        fields = line.split("\t")
        if len(fields) >= 6:
            out.update(part for part in fields[5].replace("+", "|").split("|") if part)
    return out


def medic_without(medic: Path, concepts: set[str], target: Path) -> int:
    """A copy of MEDIC without the concepts whose primary id (or an alternative id) is in ``concepts``."""
    kept, dropped = [], 0
    for line in medic.read_text(encoding="utf-8").splitlines(keepends=True):
        ids = line.split("||", 1)[0].split("|")
        bare = {i.split(":", 1)[-1] for i in ids}
        variants = set(ids) | bare | {f"MESH:{i}" for i in bare} | {f"OMIM:{i}" for i in bare}
        if variants & concepts:
            dropped += 1
            continue
        kept.append(line)
    target.write_text("".join(kept), encoding="utf-8")
    return dropped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--holdout", type=float, default=0.1, help="share of training documents held out")
    parser.add_argument("--nil-concepts", type=float, default=0.1, help="share of dev concepts left out for NIL")
    parser.add_argument("--max-train-docs", type=int, default=None, help="first N training documents (CPU runs)")
    parser.add_argument("--model", default=None)
    parser.add_argument("--work", default=None)
    args = parser.parse_args()

    root = data_dir()
    work = Path(args.work or tempfile.mkdtemp(prefix="xenc-ncbi-confidence-"))
    work.mkdir(parents=True, exist_ok=True)
    train_docs = pubtator_documents(root / "ncbi-disease" / "NCBItrainset_corpus.txt")
    dev_docs = pubtator_documents(root / "ncbi-disease" / "NCBIdevelopset_corpus.txt")
    if args.max_train_docs:
        train_docs = train_docs[: args.max_train_docs]
    n_held = max(1, round(args.holdout * len(train_docs)))
    split_of = {}
    for i, doc in enumerate(train_docs):
        split_of[doc[0].split("|", 1)[0]] = "train" if i < len(train_docs) - n_held else "validation"
    for doc in dev_docs:
        split_of[doc[0].split("|", 1)[0]] = "dev"
    corpus = work / "ncbi.pubtator"
    corpus.write_text("\n\n".join("\n".join(d) for d in train_docs + dev_docs) + "\n", encoding="utf-8")
    split_files = {}
    for split in ("train", "validation", "dev"):
        split_files[split] = work / f"{split}.pmids"
        split_files[split].write_text("\n".join(sorted({p for p, s in split_of.items() if s == split})) + "\n")
    corpus_flags = [
        "--corpus-path",
        corpus,
        "--corpus-split-files",
        ",".join(f"{s}={p}" for s, p in split_files.items()),
    ]
    model = model_path(args.model)
    medic = root / "medic" / "medic_06Jul2012.txt"
    dev_concepts = sorted(set().union(*(gold_ids(d) for d in dev_docs)))
    left_out = set(random.Random(0).sample(dev_concepts, max(1, round(args.nil_concepts * len(dev_concepts)))))
    reduced = work / "medic_reduced.txt"
    dropped = medic_without(medic, left_out, reduced)

    steps: list[dict] = []
    runs = {}
    for tag, kb in (("full", medic), ("nil", reduced)):
        out = work / tag
        xenc(
            "build-index",
            "--kb-path",
            kb,
            "--kb-format",
            "medic",
            "--encoder-model",
            model,
            "--add-training-mentions",
            *corpus_flags,
            "--output-dir",
            out / "index",
            "-q",
            log=steps,
        )
        xenc(
            "mine",
            "--index-dir",
            out / "index",
            *corpus_flags,
            "--splits",
            "train,validation,dev",
            "--cross-fit-folds",
            4,
            "--synonym-queries",
            1,
            "--candidates-n-candidates",
            args.k,
            "--output-dir",
            out / "pairs",
            "-q",
            log=steps,
        )
        if tag == "full":
            xenc(
                "train",
                "--pairs-dir",
                out / "pairs",
                "--output-dir",
                work / "training",
                "--base-model",
                model,
                "--loss",
                "listwise",
                "--list-size",
                8,
                "--epochs",
                args.epochs,
                "--max-length",
                64,
                "--dev-split",
                "validation",
                "--report-to",
                "none",
                "-q",
                log=steps,
            )
        model_dir = out / "model"
        if not model_dir.exists():
            import shutil

            shutil.copytree(work / "training" / "best", model_dir)
        xenc(
            "calibrate",
            "--model-dir",
            model_dir,
            "--pairs-dir",
            out / "pairs",
            "--split",
            "validation",
            "-q",
            log=steps,
        )
        xenc(
            "evaluate",
            "--model-dir",
            model_dir,
            "--pairs-dir",
            out / "pairs",
            "--split",
            "dev",
            "--output-dir",
            out / "results",
            "-q",
            log=steps,
        )
        runs[tag] = json.loads((out / "results" / "evaluation_results.json").read_text())

    figures = confidence_figures(runs["full"])
    nil_run = confidence_figures(runs["nil"])
    figures["nil_auroc"] = nil_run["nil_auroc"]
    figures["nil_f1"] = nil_run["nil_f1"]
    details = {
        "steps": steps,
        "model": model,
        "nil_setup": {
            "dev_concepts": len(dev_concepts),
            "left_out_concepts": len(left_out),
            "medic_entries_dropped": dropped,
            "nil_mentions": nil_run["nil_mentions"],
            "figures_with_reduced_kb": nil_run,
        },
        "selective": runs["full"]["selective"],
    }
    write_result("confidence_ncbi_disease", figures, details)
    print(json.dumps({k: v for k, v in figures.items() if k != "tiers"}, indent=1))


if __name__ == "__main__":
    main()
