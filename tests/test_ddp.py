"""``xenc train`` under ``torchrun --nproc_per_node 2`` on CPU (gloo): one set of outputs, one evaluation per step.

The run goes through the real CLI entry point in two processes. A small driver script
counts, per rank, the calls of the in-training ``LinkingEvaluator`` and checks the
``MainProcessEvaluator`` path that older sentence-transformers trainers (which call the
evaluator on every rank) would take.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from torchrun import cpu_env as _cpu_env
from torchrun import needs_torchrun
from torchrun import torchrun as _torchrun

pytestmark = [pytest.mark.slow, needs_torchrun]


DRIVER = textwrap.dedent(
    """
    import json
    import os
    import sys
    from pathlib import Path

    trace = Path(sys.argv[1])
    rank = int(os.environ["RANK"])

    from xenc_toolkit.evaluation import evaluators

    original = evaluators.LinkingEvaluator.__call__

    def counted(self, model, output_path=None, epoch=-1, steps=-1):
        with open(trace / f"linking-evaluator-rank{rank}.txt", "a") as handle:
            handle.write(f"{steps}\\n")
        return original(self, model, output_path=output_path, epoch=epoch, steps=steps)

    evaluators.LinkingEvaluator.__call__ = counted

    # what a trainer calling the evaluator on every rank (sentence-transformers < 6.2) gets
    from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator

    from xenc_toolkit.training.distributed import init_distributed, world_size
    from xenc_toolkit.training.trainer import MainProcessEvaluator

    init_distributed()
    assert world_size() == 2

    class Probe(SentenceEvaluator):
        def __call__(self, model, output_path=None, epoch=-1, steps=-1):
            (trace / f"probe-rank{rank}.txt").write_text("called")
            return {"probe_acc@1": 0.5 + rank}

    metrics = MainProcessEvaluator(Probe())(object(), output_path=None, epoch=0, steps=1)
    (trace / f"probe-metrics-rank{rank}.json").write_text(json.dumps(metrics))

    from xenc_toolkit.cli.main import main

    main(sys.argv[2:])
    """
)


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory, tiny_bert, tiny_pipeline):
    root = tmp_path_factory.mktemp("ddp")
    trace, out = root / "trace", root / "run"
    trace.mkdir()
    driver = root / "driver.py"
    driver.write_text(DRIVER)
    env = _cpu_env(quiet=False)
    command = [
        *_torchrun(2),
        str(driver),
        str(trace),
        "train",
        "--pairs-dir",
        str(tiny_pipeline["pairs"]),
        "--output-dir",
        str(out),
        "--base-model",
        str(tiny_bert),
        "--max-length",
        "48",
        "--batch-size",
        "4",
        "--gradient-accumulation-steps",
        "2",
        "--max-steps",
        "4",
        "--eval-steps",
        "2",
        "--learning-rate",
        "5e-4",
        "--max-eval-mentions",
        "30",
        "--report-to",
        "tensorboard",
        "--seed",
        "0",
    ]
    proc = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    (root / "torchrun.log").write_text(f"{proc.stdout}\n--- stderr ---\n{proc.stderr}")
    assert proc.returncode == 0, f"torchrun failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    return {"trace": trace, "out": out, "stdout": proc.stdout, "stderr": proc.stderr}


def test_ddp_run_evaluates_once_per_evaluation_step(ddp_run):
    trace, out = ddp_run["trace"], ddp_run["out"]
    assert (trace / "linking-evaluator-rank0.txt").read_text().split() == ["2", "4"]
    assert not (trace / "linking-evaluator-rank1.txt").exists()  # rank 1 never scored the dev set
    with open(out / "eval" / "linking_evaluation_dev_results.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert [row[1] for row in rows[1:]] == ["2", "4"]  # one CSV row per evaluation
    summary = json.loads((out / "training_summary.json").read_text())
    evals = [h for h in summary["log_history"] if "eval_dev_acc@1" in h]
    assert [h["step"] for h in evals] == [2, 4]
    assert summary["best_metric"] == max(h["eval_dev_acc@1"] for h in evals)


def test_ddp_global_batch_is_per_device_times_processes_times_accumulation(ddp_run):
    summary = json.loads((ddp_run["out"] / "training_summary.json").read_text())
    assert summary["global_step"] == 4
    assert summary["processes"] == 2
    assert summary["per_device_batch_size"] == 4
    assert summary["gradient_accumulation_steps"] == 2
    assert summary["global_batch_size"] == 16
    assert summary["best_dir"] == str(ddp_run["out"] / "best")


def test_ddp_outputs_are_written_once(ddp_run):
    out = ddp_run["out"]
    assert len(list((out / "runs").rglob("events.out.tfevents.*"))) == 1  # one TensorBoard writer
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith("checkpoint-")) == [
        "best",
        "eval",
        "final",
        "runs",
        "training_summary.json",
        "xenc_provenance.json",  # the training run's record, written once (rank 0)
    ]
    assert not [p for p in out.rglob("*") if ".tmp" in p.name or p.name.startswith(".")]  # no leftovers
    logs = (ddp_run["stdout"] + ddp_run["stderr"]).splitlines()
    # the start line and the CPU estimate ("training on the CPU ..."), logged by rank 0 only
    assert sum(line.startswith("training ") and "on the CPU" not in line for line in logs) == 1
    assert sum(line.startswith("training on the CPU") for line in logs) == 1
    assert sum(line.strip() == "xenc train" for line in logs) == 1  # the summary table's title, printed once


def test_ddp_exports_load_with_plain_cross_encoder(ddp_run):
    from sentence_transformers import CrossEncoder

    for kind in ("best", "final"):
        directory = ddp_run["out"] / kind
        model = CrossEncoder(str(directory), device="cpu")
        scores = model.predict([("heart attack", "myocardial infarction"), ("heart attack", "aspirin")])
        assert scores.shape == (2,) and np.all((scores > 0) & (scores < 1))
        info = json.loads((directory / "xenc_training.json").read_text())
        assert info["metrics"]["processes"] == 2
        assert (directory / "README.md").exists()


def test_main_process_evaluator_runs_on_rank_zero_and_shares_metrics(ddp_run):
    trace = ddp_run["trace"]
    assert (trace / "probe-rank0.txt").exists()
    assert not (trace / "probe-rank1.txt").exists()
    for rank in (0, 1):
        assert json.loads((trace / f"probe-metrics-rank{rank}.json").read_text()) == {"probe_acc@1": 0.5}


BATCH_TRACER = textwrap.dedent(
    """
    import json
    import os
    import sys
    from pathlib import Path

    trace = Path(sys.argv[1])
    rank = int(os.environ.get("RANK", "0"))
    processes = int(os.environ.get("WORLD_SIZE", "1"))

    from xenc_toolkit.training import trainer

    original = trainer.XencCrossEncoderTrainer.compute_loss

    def traced(self, model, inputs, *args, **kwargs):
        if model.training:  # training batches only: one line per step and process
            ids, mask = inputs["input_ids"].tolist(), inputs["attention_mask"].tolist()
            rows = [" ".join(str(t) for t, m in zip(r, k) if m) for r, k in zip(ids, mask)]
            with open(trace / f"batches-{processes}proc-rank{rank}.jsonl", "a") as handle:
                handle.write(json.dumps(rows) + "\\n")
        return original(self, model, inputs, *args, **kwargs)

    trainer.XencCrossEncoderTrainer.compute_loss = traced

    from xenc_toolkit.cli.main import main

    main(sys.argv[2:])
    """
)


def test_a_fixed_global_batch_gives_every_launch_the_same_examples(tmp_path, tiny_bert, tiny_pipeline):
    """``global_batch_size``: 1 process and 2 processes train on the same examples, step by step."""
    trace = tmp_path / "trace"
    trace.mkdir()
    driver = tmp_path / "tracer.py"
    driver.write_text(BATCH_TRACER)
    env = _cpu_env(quiet=True)
    train = ["train", "--pairs-dir", str(tiny_pipeline["pairs"]), "--base-model", str(tiny_bert)]
    # bce: the global batch counts pairs (listwise, the default, counts whole candidate lists)
    train += ["--loss", "bce", "--max-length", "48", "--global-batch-size", "8", "--max-steps", "3"]
    train += ["--dev-split", "none"]
    train += ["--seed", "0", "--report-to", "none"]
    launches = {
        1: [sys.executable, str(driver)],
        2: [*_torchrun(2), str(driver)],
    }
    for processes, launcher in launches.items():
        command = [*launcher, str(trace), *train, "--output-dir", str(tmp_path / f"run{processes}")]
        proc = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{processes} process(es): {proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"

    def steps(name: str) -> list[list[str]]:
        return [json.loads(line) for line in (trace / name).read_text().splitlines()]

    single = steps("batches-1proc-rank0.jsonl")
    rank0, rank1 = steps("batches-2proc-rank0.jsonl"), steps("batches-2proc-rank1.jsonl")
    assert len(single) == len(rank0) == len(rank1) == 3
    for whole, first, second in zip(single, rank0, rank1, strict=True):
        assert len(whole) == 8 and len(first) == len(second) == 4
        assert sorted(first + second) == sorted(whole)  # the same 8 examples, split in two
    summary = json.loads((tmp_path / "run2" / "training_summary.json").read_text())
    assert summary["global_batch_size"] == 8 and summary["per_device_batch_size"] == 4
