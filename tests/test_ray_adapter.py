"""The Ray Data adapter in local mode on CPU: the same link records as the plain :class:`Linker`."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from xenc_toolkit.errors import XencError
from xenc_toolkit.linking.ray_adapter import batch_inputs, link_record_schema, require_ray

ROOT = Path(__file__).resolve().parents[1]


def _plain(value):
    """Arrow / numpy values as plain Python (lists, floats, None) for comparison."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _assert_same_record(got: dict, want: dict) -> None:
    assert set(got) == set(want)
    for key, expected in want.items():
        value = got[key]
        if key == "alternatives":
            assert len(value) == len(expected)
            for a, b in zip(value, expected, strict=True):
                _assert_same_record(a, b)
        elif isinstance(expected, float):
            assert math.isclose(value, expected, rel_tol=1e-5, abs_tol=1e-6), (key, value, expected)
        else:
            assert value == expected, (key, value, expected)


def test_batch_columns_follow_the_link_jsonl_keys():
    batch = {
        "id": np.array(["a", "b", "c"], dtype=object),
        "mention": np.array(["aspirin", " MI ", "fever"], dtype=object),
        "left_context": np.array(["took", None, ""], dtype=object),
        "right_context": np.array(["daily", "after", None], dtype=object),
        "types": np.array([np.array(["T121"]), "DISO, T184", None], dtype=object),
    }
    ids, mentions, contexts, types = batch_inputs(batch)
    assert ids == ["a", "b", "c"] and mentions == ["aspirin", "MI", "fever"]
    assert contexts == [("took", "daily"), ("", "after"), ("", "")]
    assert types == [("T121",), ("DISO", "T184"), None]
    sentence = batch_inputs({"id": np.array([1]), "mention": np.array(["MI"]), "context": np.array(["an MI ."])})
    assert sentence == (["1"], ["MI"], ["an MI ."], [None])


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ({"text": np.array(["aspirin"]), "id": np.array(["1"])}, "no 'mention' column"),
        ({"mention": np.array(["aspirin"])}, "no 'id' column"),
        ({"id": np.array(["7"]), "mention": np.array(["  "])}, "mention '7' is empty"),
    ],
)
def test_bad_batches_name_what_is_wrong(batch, message):
    with pytest.raises(XencError, match=message):
        batch_inputs(batch)


def test_without_ray_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"xenc-toolkit\[ray\]"):
        require_ray()


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")
    pytest.importorskip("ray.data")
    env = {"PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    env.update(XENC_QUIET="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_link_dataset_gives_the_plain_linker_records(ray_local, tmp_path, tiny_model, tiny_pipeline, mm_mentions):
    from xenc_toolkit.linking import Linker
    from xenc_toolkit.linking.ray_adapter import link_dataset

    dev = [m for m in mm_mentions if m.split == "dev"][:21]
    rows = [
        {
            "id": f"m{i}",
            "mention": m.text,
            "left_context": m.left_context,
            "right_context": m.right_context,
            "types": list(m.types) if i % 3 == 0 and m.types else None,
        }
        for i, m in enumerate(dev)
    ]
    rows.append(dict(rows[0], id="repeat"))  # a repeated mention, in another batch
    (tmp_path / "mentions").mkdir()
    for part, start in enumerate(range(0, len(rows), 8)):  # three files, three blocks: work for both actors
        pq.write_table(pa.Table.from_pylist(rows[start : start + 8]), tmp_path / "mentions" / f"part-{part}.parquet")

    mentions = ray_local.data.read_parquet(str(tmp_path / "mentions")).repartition(3)
    # two actors of half a CPU each leave a CPU of the two for Ray's read and write tasks
    links = link_dataset(
        mentions, tiny_model, tiny_pipeline["index"], concurrency=2, num_cpus_per_actor=0.5, batch_size=5, top_k=3
    )
    links.write_parquet(str(tmp_path / "links"))
    table = pq.read_table(tmp_path / "links")
    assert table.schema.equals(link_record_schema())
    got = {row["id"]: _plain(row) for row in table.to_pylist()}

    linker = Linker.from_pretrained(tiny_model, tiny_pipeline["index"], device="cpu")
    results = linker.link(
        [r["mention"] for r in rows],
        contexts=[(r["left_context"], r["right_context"]) for r in rows],
        types=[r["types"] for r in rows],
        top_k=3,
    )
    want = {r["id"]: {"id": r["id"], **_plain(res.to_dict())} for r, res in zip(rows, results, strict=True)}
    assert sorted(got) == sorted(want)
    for row_id, record in want.items():
        _assert_same_record(got[row_id], record)
    assert any(r["types"] for r in rows) and any(len(r["alternatives"]) == 3 for r in want.values())


@pytest.mark.slow
def test_link_dataset_refuses_a_missing_model_before_starting_actors(ray_local, tmp_path, tiny_pipeline):
    from xenc_toolkit.linking.ray_adapter import link_dataset

    ds = ray_local.data.from_items([{"id": "1", "mention": "aspirin"}])
    with pytest.raises(XencError, match="model directory .*nowhere does not exist"):
        link_dataset(ds, tmp_path / "nowhere", tiny_pipeline["index"])
