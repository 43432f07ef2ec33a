"""``xenc build-index`` and ``xenc link`` sharded over ``torchrun --nproc_per_node 2`` on CPU (gloo).

Each run goes through the real CLI entry point in two processes and is compared with the same
command in one process: the index files (embeddings to float tolerance) and the link records.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from torchrun import cpu_env, needs_torchrun, torchrun
from typer.testing import CliRunner

from xenc_toolkit.cli.main import app
from xenc_toolkit.utils.distributed import concat_lists, map_shards, shard_bounds


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": "200"})


def torchrun_xenc(cwd: Path, *args) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --nproc_per_node 2 -m xenc_toolkit.cli.main ARGS`` on CPU."""
    env = cpu_env(quiet=True)
    command = torchrun(2)
    command += ["-m", "xenc_toolkit.cli.main", *(str(a) for a in args)]
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"torchrun failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return proc


@pytest.mark.parametrize("n_items", [0, 1, 2, 7, 10])
@pytest.mark.parametrize("shards", [1, 2, 3, 4])
def test_shards_are_contiguous_balanced_and_cover_every_item_once(n_items, shards):
    bounds = [shard_bounds(n_items, s, shards) for s in range(shards)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n_items
    assert all(stop == next_start for (_, stop), (next_start, _) in zip(bounds, bounds[1:], strict=False))
    sizes = [stop - start for start, stop in bounds]
    assert max(sizes) - min(sizes) <= 1


def test_one_process_runs_the_work_whole(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    seen = []
    result = map_shards(lambda part: seen.append(list(part)) or [x * 2 for x in part], [1, 2, 3], merge=concat_lists)
    assert result == [2, 4, 6] and seen == [[1, 2, 3]]


def _write_kb_tsv(kb, path: Path) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for name, concept in zip(kb.name_list, kb.name_concept.tolist(), strict=True):
            handle.write(f"{kb.concept_ids[concept]}\t{name}\t{','.join(kb.types_of(concept))}\n")
    return path


@pytest.mark.slow
@needs_torchrun
def test_build_index_in_two_processes_writes_the_single_process_index(tmp_path, tiny_st, mm_kb):
    kb_tsv = _write_kb_tsv(mm_kb, tmp_path / "kb.tsv")
    args = ["build-index", "--kb-path", kb_tsv, "--encoder-model", tiny_st, "--encoder-device", "cpu"]
    single = invoke(*args, "--output-dir", tmp_path / "one", "-q")
    assert single.exit_code == 0, single.output
    proc = torchrun_xenc(tmp_path, *args, "--output-dir", tmp_path / "two", "-q")

    one, two = tmp_path / "one", tmp_path / "two"
    assert sorted(p.relative_to(two) for p in two.rglob("*")) == sorted(p.relative_to(one) for p in one.rglob("*"))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".") or ".tmp" in p.name]  # no leftovers
    e1, e2 = np.load(one / "embeddings.npy"), np.load(two / "embeddings.npy")
    assert e1.shape == e2.shape == (mm_kb.n_names, 64) and e2.dtype == np.float16
    np.testing.assert_allclose(e2.astype(np.float32), e1.astype(np.float32), atol=2e-3)
    # rows are in KB order: row i matches row i, and rows of different names differ far beyond the tolerance
    cosine = np.sum(e1.astype(np.float32) * e2.astype(np.float32), axis=1)
    assert cosine.min() > 0.999
    assert np.abs(np.diff(e1.astype(np.float32), axis=0)).max(axis=1).mean() > 20 * 2e-3
    m1, m2 = (json.loads((d / "manifest.json").read_text()) for d in (one, two))
    m1.pop("created_at"), m2.pop("created_at")
    assert m1 == m2
    for kb_file in (p for p in (one / "kb").rglob("*") if p.is_file()):
        other = two / "kb" / kb_file.relative_to(one / "kb")
        if kb_file.suffix == ".parquet":  # the same table (the file bytes may differ in writer details)
            assert pq.read_table(other).equals(pq.read_table(kb_file), check_metadata=True), kb_file
        elif kb_file.name == "kb.json":  # the same metadata but whether the KB came from xenc's KB cache
            meta1, meta2 = json.loads(kb_file.read_text()), json.loads(other.read_text())
            assert meta1.pop("cache")["path"] == meta2.pop("cache")["path"]
            assert meta1 == meta2
        elif kb_file.suffix == ".json":  # the provenance record: the same but its id and when it was written
            meta1, meta2 = json.loads(kb_file.read_text()), json.loads(other.read_text())
            for meta in (meta1, meta2):
                meta.pop("created_at", None), meta.pop("id", None)
            assert meta1 == meta2, kb_file
        else:
            assert other.read_bytes() == kb_file.read_bytes(), kb_file
    assert proc.stdout.count("xenc build-index") == 1  # the summary table, printed by rank 0 alone


def _link_input(mentions, path: Path) -> Path:
    rows = []
    for i, m in enumerate(mentions):
        row = {"id": f"m{i}", "mention": m.text, "left_context": m.left_context, "right_context": m.right_context}
        if i % 3 == 0 and m.types:
            row["types"] = list(m.types)
        rows.append(row)
    rows.append(dict(rows[0], id="repeat"))  # a repeated mention lands in the other shard
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _assert_same_records(two: list[dict], one: list[dict]) -> None:
    assert [r["id"] for r in two] == [r["id"] for r in one]
    for a, b in zip(two, one, strict=True):
        assert (a["mention"], a["concept_id"], a["tier"]) == (b["mention"], b["concept_id"], b["tier"])
        assert a["probability"] == pytest.approx(b["probability"], abs=1e-5)
        assert [c["concept_id"] for c in a["alternatives"]] == [c["concept_id"] for c in b["alternatives"]]
        for ca, cb in zip(a["alternatives"], b["alternatives"], strict=True):
            assert ca["logit"] == pytest.approx(cb["logit"], abs=1e-4)


@pytest.mark.slow
@needs_torchrun
def test_link_in_two_processes_gives_the_single_process_records(tmp_path, tiny_model, tiny_pipeline, mm_mentions):
    dev = [m for m in mm_mentions if m.split == "dev"][:23]
    mentions = _link_input(dev, tmp_path / "mentions.jsonl")
    args = ["link", "--model-dir", tiny_model, "--index-dir", tiny_pipeline["index"], "--input", mentions, "-q"]
    single = invoke(*args, "--output", tmp_path / "one.jsonl")
    assert single.exit_code == 0, single.output
    torchrun_xenc(tmp_path, *args, "--output", tmp_path / "two.jsonl")
    one = [json.loads(line) for line in (tmp_path / "one.jsonl").read_text().splitlines()]
    two = [json.loads(line) for line in (tmp_path / "two.jsonl").read_text().splitlines()]
    assert len(one) == len(dev) + 1
    _assert_same_records(two, one)
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".jsonl" or p.name.startswith(".")) == [
        "mentions.jsonl",
        "one.jsonl",
        "two.jsonl",
    ]

    # to stdout: rank 0 prints every record once, in input order
    proc = torchrun_xenc(tmp_path, *args)
    printed = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    _assert_same_records(printed, one)
