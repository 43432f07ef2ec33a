"""Time and memory of a training step on the CPU, for README's "Expected time and memory" and
``xenc_toolkit/training/cpu_estimate.py``.

Trains on the quickstart's mined pairs (``xenc quickstart --output-dir DIR`` writes them to
``DIR/pairs``) with the quickstart's recipe (listwise, 16 mentions x 8 candidates a step, 48
tokens) for ``--steps`` steps, once with the offline all-MiniLM-L6-v2 and once with a
BERT-base-sized model (12 layers x 768, random weights: the speed of SapBERT/PubMedBERT), each in
its own process. Per step: wall seconds and CPU seconds (all threads), median over the steps
after the first two, and the peak resident memory of the process. On a shared machine the wall
time is inflated by the other processes; the CPU seconds are not (wall on free cores is about CPU
seconds / threads). ``xenc_toolkit/training/cpu_estimate.py`` is fitted to these figures.

    python benchmarks/cpu_train_step.py --pairs-dir xenc-quickstart/pairs --steps 12
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import bert_base_from_minilm_vocab, minilm_path, quiet_libraries, write_result  # noqa: E402


def one_model(pairs_dir: str, base_model: str, steps: int, threads: int) -> dict:
    import numpy as np
    import torch
    from transformers import TrainerCallback

    from xenc_toolkit.api import build_model, prepare_datasets, train, trainable_parameters
    from xenc_toolkit.config import TrainConfig

    quiet_libraries()
    torch.set_num_threads(threads)
    marks: list[tuple[float, float]] = []

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            marks.append((time.perf_counter(), time.process_time()))

    with tempfile.TemporaryDirectory() as out:
        cfg = TrainConfig(
            pairs_dir=pairs_dir,
            output_dir=out,
            base_model=base_model,
            max_length=48,
            loss="listwise",
            list_size=8,
            batch_size=16,
            learning_rate=1e-4,
            max_steps=steps,
            dev_split="none",
            report_to=["none"],
            save_total_limit=1,
        )
        model = build_model(cfg, device="cpu")
        data = prepare_datasets(cfg, model)
        tokens = float(np.mean(data["train"]["length"])) * cfg.batch_size
        total, dense = trainable_parameters(model.model)
        del model, data
        marks.append((time.perf_counter(), time.process_time()))
        train(cfg, callbacks=[Clock()])
    walls = np.diff([m[0] for m in marks])[2:]
    cpus = np.diff([m[1] for m in marks])[2:]
    return {
        "threads": threads,
        "parameters": total,
        "non_embedding_parameters": dense,
        "tokens_per_step": round(tokens, 1),
        "wall_s_per_step": round(float(np.median(walls)), 3),
        "cpu_s_per_step": round(float(np.median(cpus)), 3),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs-dir", required=True)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", nargs=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_model(args.pairs_dir, args.child[0], args.steps, args.threads)))
        return
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        models = {"minilm_l6": minilm_path(), "bert_base": str(bert_base_from_minilm_vocab(Path(tmp) / "bert-base"))}
        for name, path in models.items():
            command = [sys.executable, __file__, "--pairs-dir", args.pairs_dir, "--steps", str(args.steps)]
            command += ["--threads", str(args.threads), "--child", path]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            results[name] = json.loads(done.stdout.strip().splitlines()[-1])
    keys = ("cpu_s_per_step", "wall_s_per_step", "peak_rss_gb")
    figures = {f"{name}_{key}": r[key] for name, r in results.items() for key in keys}
    write_result("cpu_train_step", figures, details=results)


if __name__ == "__main__":
    main()
