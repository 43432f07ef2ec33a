"""Why the reranker loses to its own retriever: ablations and a learning curve, each row with seeds (GPU).

    python benchmarks/reranker_diagnosis.py --dataset ncbi_disease --rows recipe,bce,no_synonyms --seeds 0,1,2
    python benchmarks/reranker_diagnosis.py --dataset medmentions --rows all --seeds 0,1,2

Every row is one run of the quality benchmark (:func:`benchmarks.quality_common.run`: ``xenc build-index``,
``mine``, ``train``, ``calibrate``, ``evaluate`` through the command functions, stock recipe off) with the
published recipe's flags plus the row's own; it records, per seed, the reranker alone, the fused ranking
(reranker + fitted weight x retrieval), the held-out acc@1 that chooses the seed, and the retrieval
figures, then the mean and spread, and ``xenc evaluate``'s errors by cause (``error_causes``) of the
row's first seed: the error table. Rows (``--rows all`` runs them all; a GPU call of ten
minutes fits three or four NCBI rows with three one-epoch seeds, so split them over calls):

=================  ==========================================================================
recipe             the published recipe (listwise, cross-fit 4 folds, synonym queries 1, 3 epochs)
bce                binary cross-entropy on the same pairs instead of the listwise loss
lambda             LambdaLoss over the same lists
context            16 words of sentence context around the mention
no_cross_fit       training lists mined against the KB holding their own strings
no_synonyms        no synonym queries (only corpus mentions as training queries)
epochs1            one epoch
tuned_init         bi-encoder tuned on the KB synonyms, the reranker started from its weights
train_10 .. _50    the learning curve: 10/25/50% of the training documents (recipe otherwise)
=================  ==========================================================================

Writes ``benchmarks/results/reranker_diagnosis_<dataset>.json`` (rows merged into an existing file, so
calls can fill it a few rows at a time) with card, date and command per row.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, card, command_line, quiet_libraries  # noqa: E402
from benchmarks.quality_common import run  # noqa: E402

RECIPE = {
    "ncbi_disease": ["--epochs", "3", "--synonym-queries", "1"],
    "medmentions": ["--epochs", "1"],
}
ROWS = {
    "recipe": [],
    "bce": ["--loss", "bce"],
    "lambda": ["--loss", "lambda"],
    "context": ["--context-words", "16"],
    "no_cross_fit": ["--cross-fit", "0"],
    "no_synonyms": ["--synonym-queries", "0"],
    "epochs1": ["--epochs", "1"],
    "tuned_init": ["--tune-encoder", "--reranker-init", "encoder"],
    "train_10": ["--train-share", "0.1"],
    "train_25": ["--train-share", "0.25"],
    "train_50": ["--train-share", "0.5"],
}


def _module(dataset: str):
    if dataset == "ncbi_disease":
        from benchmarks import quality_ncbi_disease as module
    else:
        from benchmarks import quality_medmentions as module
    return module


def _row_figures(result: dict) -> dict:
    figures, xenc = result["figures"], result["details"]["xenc"]
    seeds = xenc["seeds"]["runs"]
    alone = [r["reranker_alone_acc@1"] for r in seeds.values()]
    fused = [r["acc@1"] for r in seeds.values()]
    held = [r["heldout_acc@1"] for r in seeds.values() if r["heldout_acc@1"] is not None]

    def spread(values):
        return round(max(values) - min(values), 4) if values else None

    return {
        "biencoder_acc1": figures["biencoder_acc1"],
        "fusion_acc1": figures["fusion_acc1"],
        "reranker_alone_acc1_mean": round(sum(alone) / len(alone), 4),
        "reranker_alone_acc1_spread": spread(alone),
        "xenc_acc1_mean": round(sum(fused) / len(fused), 4),
        "xenc_acc1_spread": spread(fused),
        "heldout_acc1_mean": round(sum(held) / len(held), 4) if held else None,
        "xenc_acc1_chosen_seed": figures["xenc_acc1"],
        "reranker_alone_minus_biencoder": round(sum(alone) / len(alone) - figures["biencoder_acc1"], 4),
        "xenc_minus_fusion": round(sum(fused) / len(fused) - figures["fusion_acc1"], 4),
        "train_examples": xenc["train_mentions"],  # lists (listwise) or pairs (bce)
        "fusion_weight": figures["fusion_weight"],
        "seeds": seeds,
        "errors_by_match": xenc["errors_by_match"],
        "times": result["details"]["times"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(RECIPE), default="ncbi_disease")
    parser.add_argument("--rows", default="recipe", help=f"comma-separated, or 'all': {', '.join(ROWS)}")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", default=None, help="override every row's epochs (quick runs)")
    parser.add_argument("--extra", default="", help="more flags for every row, e.g. '--max-train 300' (CPU)")
    args = parser.parse_args()
    rows = list(ROWS) if args.rows == "all" else [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        raise SystemExit(f"unknown rows {unknown}; known: {', '.join(ROWS)}")
    quiet_libraries()
    from xenc_toolkit.api import atomic_write_json

    module = _module(args.dataset)
    out_path = Path(os.environ.get("XENC_RESULTS_DIR") or RESULTS) / f"reranker_diagnosis_{args.dataset}.json"
    result = json.loads(out_path.read_text()) if out_path.exists() else {"rows": {}}
    for row in rows:
        flags = RECIPE[args.dataset] + ROWS[row] + ["--no-stock", "--seeds", args.seeds] + args.extra.split()
        if args.epochs:
            flags += ["--epochs", args.epochs]
        row_args = module.parser().parse_args(flags)
        with tempfile.TemporaryDirectory(prefix=f"xenc-diagnosis-{row}-") as work:
            row_args.work = str(Path(work) / "run")
            train, dev, build_kb, details = module.dataset(row_args)
            path = run(f"row_{row}", train, dev, build_kb, row_args, details, results_dir=Path(work))
            entry = _row_figures(json.loads(path.read_text()))
            causes = Path(row_args.work) / "results" / "evaluation_results.json"  # the first seed's evaluate
            if causes.exists():
                entry["error_causes"] = json.loads(causes.read_text()).get("error_causes")
        entry.update({"flags": " ".join(flags), "card": card(), "command": command_line()})
        result["rows"][row] = entry
        atomic_write_json(out_path, result)  # after every row: a call cut short keeps the rows done
        print(f"{row}: reranker alone {entry['reranker_alone_acc1_mean']} xenc {entry['xenc_acc1_mean']}")
    print(out_path)


if __name__ == "__main__":
    main()
