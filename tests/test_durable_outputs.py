"""Durable outputs: an interrupted write leaves the previous output intact; SIGTERM leaves no worker behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from xenc_toolkit.utils import io

ROOT = Path(__file__).resolve().parents[1]


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


def test_an_interrupted_file_write_keeps_the_old_file_and_a_complete_one_is_fsynced(tmp_path, monkeypatch):
    target = tmp_path / "out" / "report.json"
    io.atomic_write_json(target, {"run": 1})

    def killed(src, dst):  # Ctrl-C after the new file's data is written, before it replaces the old one
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(io.os, "replace", killed)
        with pytest.raises(KeyboardInterrupt):
            io.atomic_write_json(target, {"run": 2})
    assert io.read_json(target) == {"run": 1} and _siblings(target) == []

    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(io.os, "fsync", lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}")) or real_fsync(fd))
    io.atomic_write_json(target, {"run": 2})
    assert io.read_json(target) == {"run": 2}
    assert any(Path(p).name.startswith(".report.json.") for p in synced)  # the data, before the rename
    assert synced[-1] == str(target.parent)  # then the rename


def test_an_interrupted_index_build_keeps_the_old_index(tmp_path, tiny_st, mm_kb, monkeypatch):
    from xenc_toolkit.kb.model import KnowledgeBase
    from xenc_toolkit.retrieval import DenseIndex
    from xenc_toolkit.settings import EncoderConfig, IndexConfig

    encoder = EncoderConfig(model=str(tiny_st), device="cpu")
    old = DenseIndex.build(mm_kb.subset(range(100)), encoder, IndexConfig(), tmp_path / "index")

    def killed(self, path):  # Ctrl-C while the new index's files are being written
        raise KeyboardInterrupt

    monkeypatch.setattr(KnowledgeBase, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        DenseIndex.build(mm_kb, encoder, IndexConfig(), tmp_path / "index")
    monkeypatch.undo()
    kept = DenseIndex.load(tmp_path / "index")
    assert kept.kb.checksum == old.kb.checksum and kept.kb.n_concepts == 100
    np.testing.assert_array_equal(np.asarray(kept.embeddings), old.embeddings)
    assert _siblings(tmp_path / "index") == []


def test_a_failed_quickstart_keeps_the_previous_output(tmp_path, monkeypatch):
    from xenc_toolkit.commands import quickstart as qs
    from xenc_toolkit.config import QuickstartConfig

    out = tmp_path / "xenc-quickstart"
    (out / "model").mkdir(parents=True)
    (out / "quickstart_summary.json").write_text('{"run": 1}\n')

    def fails_half_way(cfg, staging):
        (staging / "index").mkdir()
        (staging / "index" / "manifest.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(qs, "run_quickstart", fails_half_way)
    with pytest.raises(KeyboardInterrupt):
        qs.quickstart(QuickstartConfig(output_dir=out))
    assert sorted(p.name for p in out.iterdir()) == ["model", "quickstart_summary.json"]
    assert _siblings(out) == []


def test_closing_the_tokenizer_stream_early_stops_its_worker_processes(tiny_st):
    from xenc_toolkit.retrieval.encoder import NameEncoder

    encoder = NameEncoder(str(tiny_st), device="cpu")
    chunks = encoder.chunks([f"name {i} of a long list" for i in range(20000)], chunk_size=200, processes=2)
    next(chunks)
    # the pool's workers (multiprocessing's resource tracker, one per interpreter, is no worker: it stays)
    workers = [p for p in psutil.Process().children(recursive=True) if "resource_tracker" not in " ".join(p.cmdline())]
    assert len(workers) >= 2
    chunks.close()  # what an exception (or Ctrl-C) in the consumer does
    gone, alive = psutil.wait_procs(workers, timeout=60)
    assert not alive


@pytest.mark.slow
def test_sigterm_stops_training_and_its_data_loader_workers(tmp_path, tiny_bert, tiny_pipeline):
    argv = [sys.executable, "-m", "xenc_toolkit.cli.main", "train", "--pairs-dir", str(tiny_pipeline["pairs"])]
    argv += ["--output-dir", str(tmp_path / "run"), "--base-model", str(tiny_bert), "--max-length", "32"]
    argv += ["--batch-size", "8", "--max-steps", "100000", "--save-steps", "100000", "--dataloader-workers", "2"]
    argv += ["--report-to", "none"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(process.pid)
    deadline = time.monotonic() + 240
    while len(workers := parent.children(recursive=True)) < 2:
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "no data loader workers within 240 s"
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    output = " ".join((stdout + stderr).split())
    assert process.returncode == 143, output[-3000:]
    assert "interrupted (SIGTERM)" in output and "Traceback" not in output
    gone, alive = psutil.wait_procs(workers, timeout=60)
    assert not alive, [p.cmdline() for p in alive]
    assert not (tmp_path / "run" / "final").exists()
