"""Training recipes for `xenc quickstart`, compared on its own data and split (GPU: seconds each).

    python benchmarks/quickstart_recipes.py

Runs the quickstart pipeline (same bundled MedMentions slice, same contiguous train/held-out
split, same KB, same evaluation mentions) with several training recipes and reports
retrieval-only vs reranked acc@1 and the number of training pair-passes (what a CPU pays
for: the quickstart must finish in under 3 minutes on 2 cores). The slice and the split are
never changed; only the recipe is. Writes ``benchmarks/results/quickstart_recipes.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import minilm_path, quiet_libraries, write_result  # noqa: E402

RECIPES = {
    "listwise-700x8-1ep": dict(train_mentions=700, loss="listwise", list_size=8, epochs=1),
    "listwise-700x8-3ep": dict(train_mentions=700, loss="listwise", list_size=8, epochs=3),
    "listwise-1500x4": dict(train_mentions=1500, loss="listwise", list_size=4, n_candidates=8),
    "listwise-1500x4-ctx8": dict(train_mentions=1500, loss="listwise", list_size=4, context_words=8),
    "listwise-3000x4-ctx8": dict(train_mentions=3000, loss="listwise", list_size=4, context_words=8),
    "listwise-all-x8-ctx8-2ep": dict(
        train_mentions=100000, loss="listwise", list_size=8, context_words=8, epochs=2, learning_rate=5e-5
    ),
    "listwise-all-x8-2ep": dict(train_mentions=100000, loss="listwise", list_size=8, epochs=2, learning_rate=5e-5),
    "bce-1500-h3-ctx8-2ep": dict(
        train_mentions=1500, loss="bce", hard_negatives=3, context_words=8, epochs=2, learning_rate=5e-5, batch_size=32
    ),
    "lambda-1500x4-ctx8": dict(train_mentions=1500, loss="lambda", list_size=4, context_words=8),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--eval-mentions", type=int, default=400)
    args = parser.parse_args()
    quiet_libraries()
    from xenc_toolkit import api
    from xenc_toolkit.config import QuickstartConfig

    figures, details = {}, {}
    for name in args.recipes.split(","):
        out = Path(tempfile.mkdtemp(prefix=f"xenc-qs-{name}-"))
        cfg = QuickstartConfig(output_dir=out, model=minilm_path(), eval_mentions=args.eval_mentions, **RECIPES[name])
        t = time.perf_counter()
        summary = api.quickstart(cfg)
        training = __import__("json").loads((out / "training" / "training_summary.json").read_text())
        per_example = cfg.list_size if cfg.loss in ("listwise", "lambda") else 1
        passes = int(training["train_examples"] * per_example * cfg.epochs)
        details[name] = {
            "recipe": RECIPES[name],
            "retrieval_acc@1": summary["retrieval_acc@1"],
            "reranked_acc@1": summary["reranked_acc@1"],
            "train_pair_passes": passes,
            "train_examples": training["train_examples"],
            "seconds": round(time.perf_counter() - t, 1),
        }
        figures[f"{name}_gain"] = round(summary["reranked_acc@1"] - summary["retrieval_acc@1"], 4)
        print(name, details[name], flush=True)
    write_result("quickstart_recipes", figures, details)


if __name__ == "__main__":
    main()
