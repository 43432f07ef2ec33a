"""The name encoder, search backends and the on-disk index (manifest checks, atomic writes)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from xenc_toolkit.config import EncoderConfig, IndexConfig
from xenc_toolkit.errors import IncompatibleArtifactError, MissingInputError, XencError
from xenc_toolkit.kb.model import ConceptRecord, KnowledgeBase
from xenc_toolkit.retrieval import DenseIndex, FaissSearcher, NameEncoder, TorchExactSearcher, resolve_devices


def test_encoder_matches_sentence_transformers(tiny_st, mm_kb):
    from sentence_transformers import SentenceTransformer

    names = mm_kb.name_list[:200]
    ours = NameEncoder(str(tiny_st), device="cpu").encode(names, batch_size=16)
    reference = SentenceTransformer(str(tiny_st), device="cpu").encode(names, normalize_embeddings=True)
    assert ours.shape == reference.shape
    assert np.abs(ours - reference).max() < 1e-4
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_encoder_order_is_preserved_across_length_sorted_chunks(tiny_st):
    names = [("word " * (i % 13)).strip() + f" n{i}" for i in range(300)]
    encoder = NameEncoder(str(tiny_st), device="cpu")
    chunked = encoder.encode(names, batch_size=7, chunk_size=50)
    one_by_one = np.stack([encoder.encode([n])[0] for n in names[:40]])
    assert np.abs(chunked[:40] - one_by_one).max() < 1e-4


def _names(n: int) -> list[str]:
    return [("word " * (i % 13)).strip() + f" n{i}" for i in range(n)]


def test_encoding_on_several_devices_equals_one_device(tiny_st):
    names = _names(700)
    encoder = NameEncoder(str(tiny_st), device="cpu")
    single = encoder.encode(names, batch_size=16, chunk_size=128)
    two = encoder.encode(names, batch_size=16, chunk_size=128, devices=["cpu", "cpu"])
    assert np.array_equal(single, two)  # the same batches, each back in its input position
    three = encoder.encode(names, batch_size=16, chunk_size=128, devices=["cpu"] * 3, output="torch")
    assert np.array_equal(single, three.numpy())
    configured = NameEncoder(str(tiny_st), devices=["cpu", "cpu"])
    assert configured.device == torch.device("cpu") and len(configured.devices) == 2
    assert np.array_equal(single, configured.encode(names, batch_size=16, chunk_size=128))


def test_a_failing_device_worker_stops_encoding(tiny_st, monkeypatch):
    encoder = NameEncoder(str(tiny_st), device="cpu")
    original = NameEncoder.embed_batch

    def failing_replica(self, model, device, ids, lengths):
        if model is not self.model:
            raise RuntimeError("device lost")
        return original(self, model, device, ids, lengths)

    monkeypatch.setattr(NameEncoder, "embed_batch", failing_replica)
    with pytest.raises(RuntimeError, match="device lost"):
        encoder.encode(_names(400), batch_size=8, chunk_size=64, devices=["cpu", "cpu"])


def test_encoder_devices_are_checked():
    assert resolve_devices(None) is None and resolve_devices([]) is None
    assert resolve_devices(["cpu", "cpu"]) == [torch.device("cpu")] * 2
    with pytest.raises(XencError, match="not a device"):
        resolve_devices(["gpu0", "gpu1"])
    if not torch.cuda.is_available():
        with pytest.raises(XencError, match="no CUDA"):
            resolve_devices(["all"])
        with pytest.raises(XencError, match="no CUDA"):
            resolve_devices(["cuda:0", "cuda:1"])


def test_index_build_encodes_on_the_configured_devices(tiny_st):
    from types import SimpleNamespace

    base = EncoderConfig(model=str(tiny_st), device="cpu")
    multi = SimpleNamespace(**{**base.model_dump(), "devices": ["cpu", "cpu"]})  # EncoderConfig.devices
    one = DenseIndex.build(_kb(), base, IndexConfig())
    two = DenseIndex.build(_kb(), multi, IndexConfig())
    assert len(two.encoder().devices) == 2
    assert np.array_equal(one.embeddings, two.embeddings)


def test_plain_hf_encoder_uses_cls_pooling(tiny_bert):
    encoder = NameEncoder(str(tiny_bert), device="cpu")
    assert encoder.pooling == "cls"
    assert encoder.info.dimension == 64


def test_torch_exact_search_equals_faiss_flat():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = rng.normal(size=(40, 32)).astype(np.float32)
    s1, i1 = FaissSearcher.build(x, "flat").search(q, 10)
    s2, i2 = TorchExactSearcher(x, device="cpu", dtype=None, max_scores_bytes=4096).search(q, 10)
    assert np.array_equal(i1, i2)
    assert np.allclose(s1, s2, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_search_orders_near_duplicates_like_float32(dtype):
    """Near-duplicate names tie in half-precision scores; the fp32 re-scoring orders them as faiss does
    (over the same stored vectors: an index keeps its embeddings in fp16)."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 64)).astype(np.float32)
    x[1000:1300] = x[:300] + 2e-3 * rng.normal(size=(300, 64)).astype(np.float32)  # near-duplicate names
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = x[:300] + 1e-3 * rng.normal(size=(300, 64)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    searcher = TorchExactSearcher(x, device="cpu", dtype=dtype)
    stored = searcher.matrix.float().numpy()
    s_ref, i_ref = FaissSearcher.build(stored, "flat").search(q, 5)
    s, i = searcher.search(q, 5)
    assert np.abs(s - s_ref).max() < 1e-5
    differ = (i != i_ref).any(axis=1)
    assert differ.mean() < 0.02  # the same order, except float32 ties (summation order of BLAS vs torch)
    for row in np.flatnonzero(differ):
        assert sorted(i[row]) == sorted(i_ref[row]) and np.ptp(s_ref[row][i[row] != i_ref[row]]) < 1e-6
    # without the re-scoring, half-precision scores put near-duplicates in the wrong order
    coarse = (torch.from_numpy(q).to(dtype) @ searcher.matrix.T).float().topk(5).indices.numpy()
    assert not np.array_equal(coarse[:, :2], i_ref[:, :2])


@pytest.mark.parametrize("index_type", ["ivf", "hnsw"])
def test_approximate_indexes_find_true_neighbours(index_type):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4000, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = x[:100] + 0.01 * rng.normal(size=(100, 16)).astype(np.float32)
    _, exact = FaissSearcher.build(x, "flat").search(q, 5)
    _, approx = FaissSearcher.build(x, index_type, nprobe=16, ef_search=64).search(q, 5)
    recall = np.mean([len(set(a) & set(e)) / 5 for a, e in zip(approx, exact, strict=True)])
    assert recall > 0.9
    assert (approx[:, 0] == np.arange(100)).mean() > 0.95


def _kb() -> KnowledgeBase:
    return KnowledgeBase.from_records(
        [
            ConceptRecord("C0004057", ["aspirin", "acetylsalicylic acid", "ASA"], "Aspirin", ["T109", "T121"]),
            ConceptRecord(
                "C0027051", ["myocardial infarction", "heart attack", "MI"], "Myocardial infarction", ["T047"]
            ),
            ConceptRecord("C0020538", ["hypertension", "high blood pressure"], "Hypertensive disease", ["T047"]),
        ]
    )


def test_index_roundtrip_and_manifest(tmp_path, tiny_st):
    kb = _kb()
    index = DenseIndex.build(kb, EncoderConfig(model=str(tiny_st), device="cpu"), IndexConfig(), tmp_path / "index")
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert manifest["kb"]["checksum"] == kb.checksum
    assert manifest["kb"]["n_names"] == 11  # 8 synonyms + 3 preferred names
    assert manifest["encoder"]["pooling"] == "mean"
    assert manifest["encoder"]["normalize"] is True
    loaded = DenseIndex.load(tmp_path / "index", expect_encoder=str(tiny_st), expect_kb_checksum=kb.checksum)
    query = index.encoder().encode(["heart attack"])
    scores, ids = loaded.search(query, kb.n_names)
    own = int(np.nonzero(ids[0] == kb.name_list.index("heart attack"))[0][0])
    assert scores[0, own] == pytest.approx(1.0, abs=2e-3)  # fp16 storage
    assert np.all(np.diff(scores[0]) <= 1e-6)
    assert np.array_equal(ids, index.search(query, kb.n_names)[1])


def test_index_refuses_other_encoder_or_kb(tmp_path, tiny_st, tiny_bert):
    DenseIndex.build(_kb(), EncoderConfig(model=str(tiny_st), device="cpu"), IndexConfig(), tmp_path / "index")
    with pytest.raises(IncompatibleArtifactError, match="built with encoder"):
        DenseIndex.load(tmp_path / "index", expect_encoder=str(tiny_bert))
    with pytest.raises(IncompatibleArtifactError, match="built for KB"):
        DenseIndex.load(tmp_path / "index", expect_kb_checksum="0123456789abcdef")
    with pytest.raises(MissingInputError, match="manifest"):
        DenseIndex.load(tmp_path / "nowhere")


def test_failed_build_leaves_no_partial_directory(tmp_path, tiny_st, monkeypatch):
    from xenc_toolkit.kb import model as kb_model

    def broken_save(self, path):
        raise OSError("disk full")

    monkeypatch.setattr(kb_model.KnowledgeBase, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        DenseIndex.build(_kb(), EncoderConfig(model=str(tiny_st), device="cpu"), IndexConfig(), tmp_path / "index")
    assert not (tmp_path / "index").exists()
    assert list(tmp_path.iterdir()) == []


def test_ivf_index_is_saved_and_reloaded(tmp_path, tiny_st, mm_kb):
    DenseIndex.build(
        mm_kb,
        EncoderConfig(model=str(tiny_st), device="cpu"),
        IndexConfig(index_type="ivf", nprobe=4),
        tmp_path / "ivf",
    )
    assert (tmp_path / "ivf" / "index.faiss").exists()
    loaded = DenseIndex.load(tmp_path / "ivf", nprobe=8)
    assert loaded.searcher.index_type == "ivf"
    assert loaded.manifest["index"]["nlist"] >= 1


def test_token_budget_batches_cover_every_row_within_both_budgets():
    from xenc_toolkit.utils.batching import token_budget_batches

    lengths = np.array([40, 33, 33, 20, 9, 9, 9, 3, 1])
    for multiple_of in (1, 8):
        seen = []
        for rows, width in token_budget_batches(lengths, batch_size=3, max_tokens=90, multiple_of=multiple_of):
            assert (
                width >= lengths[rows.start] and width % multiple_of == 0 and width - lengths[rows.start] < multiple_of
            )
            assert rows.stop - rows.start <= 3
            assert (rows.stop - rows.start) * width <= 90 or rows.stop - rows.start == 1
            seen.extend(range(rows.start, rows.stop))
        assert seen == list(range(len(lengths)))
    assert list(token_budget_batches(np.array([50, 50]), batch_size=8, max_tokens=10)) == [
        (slice(0, 1), 50),
        (slice(1, 2), 50),
    ]


def test_same_width_batches_never_pad():
    from xenc_toolkit.utils.batching import token_budget_batches

    lengths = np.array([9, 9, 9, 7, 7, 5, 5, 5, 5, 5, 2])
    batches = list(token_budget_batches(lengths, batch_size=3, max_tokens=100, same_width=True))
    seen = []
    for rows, width in batches:
        assert set(lengths[rows].tolist()) == {width}  # one length per batch
        assert rows.stop - rows.start <= 3
        seen.extend(range(rows.start, rows.stop))
    assert seen == list(range(len(lengths)))
    assert [(r.start, r.stop) for r, _ in batches] == [(0, 3), (3, 5), (5, 8), (8, 10), (10, 11)]


def test_rust_tokenizer_path_reproduces_the_transformers_tokenizer(tiny_st, mm_kb):
    names = mm_kb.name_list[:300] + ["", "x " * 40, "Ünïcödé naïve café (TNF-α)"]
    encoder = NameEncoder(str(tiny_st), device="cpu", max_length=12)
    assert encoder.tokenizer_fallback is None and encoder._backend is not None
    fast = encoder._tokenize_chunk(names, start=0)
    expected = encoder.tokenizer(names, truncation=True, max_length=12)["input_ids"]
    assert fast.lengths.max() <= 12
    for position, row, length in zip(fast.positions, fast.ids, fast.lengths, strict=True):
        assert row[:length].tolist() == list(expected[position])
    # the transformers tokenizer path (the fallback) gives the same embeddings
    embedded = encoder.encode(names, batch_size=32)
    encoder._backend = None
    assert np.abs(encoder.encode(names, batch_size=32) - embedded).max() < 1e-5


def test_encoder_without_padding_matches_padded_batches(tiny_st, mm_kb):
    """Batches of one length (no mask) give what padded, masked batches give."""
    names = mm_kb.name_list[:200]
    encoder = NameEncoder(str(tiny_st), device="cpu")
    unpadded = encoder.encode(names, batch_size=16)
    chunk = encoder._tokenize_chunk(names, start=0)
    with torch.inference_mode():
        padded = encoder.embed_batch(encoder.model, encoder.device, chunk.ids, chunk.lengths).numpy()
    assert chunk.lengths.min() < chunk.ids.shape[1]  # a real mix of lengths, masked
    assert np.abs(unpadded[chunk.positions] - padded).max() < 1e-4


def test_tokenizer_worker_processes_give_the_same_embeddings(tiny_st, mm_kb):
    names = mm_kb.name_list[:500]
    encoder = NameEncoder(str(tiny_st), device="cpu")
    assert encoder.tokenizer_processes(10_000_000, None) == 0  # automatic: only for large inputs on a GPU
    assert encoder.tokenizer_processes(100, 2) == 2
    in_thread = encoder.encode(names, batch_size=32, chunk_size=64, tokenizer_processes=0)
    in_processes = encoder.encode(names, batch_size=32, chunk_size=64, tokenizer_processes=2)
    assert np.array_equal(in_thread, in_processes)


def test_tokenizer_worker_module_imports_nothing_heavy():
    """Each worker process imports the module of its function: torch there would cost seconds per worker."""
    import subprocess
    import sys

    probe = "import sys, xenc_toolkit.utils.tokenize_pool; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
