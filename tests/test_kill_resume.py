"""Fault injection: ``xenc train`` killed with SIGKILL, then ``--resume``d, ends where an uninterrupted run ends."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from xenc_toolkit.training.checkpoints import MARKER, complete_checkpoints, latest_checkpoint

ROOT = Path(__file__).resolve().parents[1]
MAX_STEPS = 24


def _argv(tiny_bert: Path, tiny_pipeline: dict, output_dir: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "xenc_toolkit.cli.main",
        "train",
        "--pairs-dir",
        str(tiny_pipeline["pairs"]),
        "--output-dir",
        str(output_dir),
        "--base-model",
        str(tiny_bert),
        "--max-length",
        "32",
        "--batch-size",
        "16",
        "--learning-rate",
        "0.0005",
        "--max-steps",
        str(MAX_STEPS),
        "--save-steps",
        "4",
        "--report-to",
        "none",
        "--seed",
        "0",
        *extra,
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "XENC_QUIET": "0", "COLUMNS": "200"}


def _scores(model_dir: Path, pairs: list[tuple[str, str]]) -> np.ndarray:
    from sentence_transformers import CrossEncoder

    return np.asarray(CrossEncoder(str(model_dir), device="cpu").predict(pairs, batch_size=32))


def _kill_after_first_checkpoint(argv: list[str], output_dir: Path, seed: int) -> None:
    """Start the run; SIGKILL it a random (seeded) moment after its first complete checkpoint."""
    process = subprocess.Popen(argv, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not list(output_dir.glob(f"checkpoint-*/{MARKER}")):
            assert process.poll() is None, f"training ended (rc {process.returncode}) before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.02)
        time.sleep(random.Random(seed).uniform(0.0, 1.0))
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


@pytest.mark.slow
def test_killed_training_resumes_from_the_newest_complete_checkpoint(tmp_path, tiny_bert, tiny_pipeline):
    from datasets import load_from_disk

    full, killed = tmp_path / "full", tmp_path / "killed"
    done = subprocess.run(_argv(tiny_bert, tiny_pipeline, full), cwd=ROOT, env=_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]

    _kill_after_first_checkpoint(_argv(tiny_bert, tiny_pipeline, killed), killed, seed=20)
    assert not (killed / "final").exists(), "the run finished before it was killed"
    newest = latest_checkpoint(killed)
    assert newest is not None and newest in complete_checkpoints(killed)
    step = int(newest.name.split("-")[1])
    assert step < MAX_STEPS

    # a checkpoint being written when the run died: newer, no completion marker, a truncated optimiser file
    half = killed / f"checkpoint-{MAX_STEPS - 1}"
    if not half.exists():
        shutil.copytree(newest, half)
        (half / MARKER).unlink()
        optimizer = half / "optimizer.pt"
        optimizer.write_bytes(optimizer.read_bytes()[:100])
    assert latest_checkpoint(killed) == newest

    resumed = subprocess.run(
        _argv(tiny_bert, tiny_pipeline, killed, "--resume"), cwd=ROOT, env=_env(), capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    log = " ".join((resumed.stdout + resumed.stderr).split())
    assert f"resuming from {newest}" in log and f"step {step}" in log
    assert half.name in log  # said that the incomplete checkpoint was skipped

    dev = load_from_disk(str(tiny_pipeline["pairs"]))["dev"]
    pairs = list(zip(dev["query"][:64], dev["candidate"][:64], strict=True))
    expected, got = _scores(full / "final", pairs), _scores(killed / "final", pairs)
    assert np.ptp(expected) > 0  # the model learnt something pair-specific
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)


def test_only_marked_checkpoints_with_every_listed_file_are_complete(tmp_path):
    from xenc_toolkit.training.checkpoints import mark_complete

    for step in (4, 8, 12):
        checkpoint = tmp_path / f"checkpoint-{step}"
        checkpoint.mkdir()
        (checkpoint / "model.safetensors").write_bytes(os.urandom(256))
        (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    assert latest_checkpoint(tmp_path).name == "checkpoint-12"  # a run from before markers: state files parse
    for step in (4, 8):
        mark_complete(tmp_path / f"checkpoint-{step}")
    assert latest_checkpoint(tmp_path).name == "checkpoint-8"  # checkpoint-12 has no marker: being written
    (tmp_path / "checkpoint-8" / "model.safetensors").unlink()  # half-deleted by the rotation
    assert latest_checkpoint(tmp_path).name == "checkpoint-4"
    (tmp_path / "checkpoint-4" / "model.safetensors").write_bytes(b"torn")  # size differs from the marker's
    assert latest_checkpoint(tmp_path) is None
