"""Index building and mining at UMLS scale (GPU) and a 100K-name KB on CPU.

    python benchmarks/index_mine.py --names 4500000 --mentions 280000        # GPU part
    python benchmarks/index_mine.py --cpu --names 100000 --mentions 10000    # CPU part (2 cores)

KB: synthetic names built from real name lengths and words (MEDIC names and MedMentions
surface forms give the distributions), ~3 names per concept, random semantic types.
Mentions: KB names with realistic noise (a dropped or added word, a character edit,
lower-casing), each with its gold concept. Encoder: BERT-base-sized (random weights; speed
does not depend on them) on GPU, the offline MiniLM on CPU.

GPU figures: xenc names/s vs stock ``SentenceTransformer.encode`` (fp16, batch 1024) in the
same run; end-to-end mining seconds (encode mentions, exact top-k over all names, concept
aggregation, negatives, pair datasets). CPU figure: mining 10K mentions against a 100K-name
KB with an IVF and an HNSW index. Results merge into ``benchmarks/results/index_mine.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    RESULTS,
    bert_base_from_minilm_vocab,
    card,
    data_dir,
    minilm_path,
    quiet_libraries,
    sync,
    write_result,
)


def real_name_statistics():
    """Word-count distribution and word frequencies of real biomedical names."""
    from collections import Counter

    from xenc_toolkit.api import load_medic

    root = data_dir()
    names = load_medic(root / "medic" / "medic_06Jul2012.txt").name_list
    with open(root / "medmentions" / "full_dev_bio_cui.tsv", encoding="utf-8") as handle:
        words = [line.split("\t")[0] for line in handle if "\t" in line and line.split("\t")[0].strip()]
    lengths = Counter(len(n.split()) for n in names)
    vocab = Counter(w for n in names for w in n.split())
    vocab.update(words)
    return lengths, vocab


def synthetic_kb(n_names: int, seed: int = 0):
    import numpy as np
    import pyarrow as pa

    from xenc_toolkit.api import KnowledgeBase, load_semantic_network

    rng = np.random.default_rng(seed)
    lengths, vocab = real_name_statistics()
    length_values = np.array(sorted(lengths))
    length_p = np.array([lengths[k] for k in length_values], dtype=np.float64)
    words = np.array(list(vocab))
    word_p = np.array([vocab[w] for w in words], dtype=np.float64) ** 0.75
    word_p /= word_p.sum()
    n_words = rng.choice(length_values, size=n_names, p=length_p / length_p.sum())
    pool = rng.choice(len(words), size=int(n_words.sum()), p=word_p)
    offsets = np.concatenate([[0], np.cumsum(n_words)])
    names = [" ".join(words[pool[offsets[i] : offsets[i + 1]]]) for i in range(n_names)]
    n_concepts = n_names // 3
    # every concept has at least one name; the others are spread at random
    concept_of = np.sort(np.concatenate([np.arange(n_concepts), rng.integers(0, n_concepts, n_names - n_concepts)]))
    concept_of = concept_of.astype(np.int32)
    tuis = sorted(load_semantic_network().type_names)
    types = [[tuis[t]] for t in rng.integers(0, len(tuis), size=n_concepts)]
    first = np.searchsorted(concept_of, np.arange(n_concepts))
    concepts = pa.table(
        {
            "concept_id": pa.array([f"C{i:07d}" for i in range(n_concepts)]),
            "preferred_name": pa.array([names[i] for i in first]),
            "types": pa.array(types, pa.list_(pa.string())),
            "definition": pa.array([None] * n_concepts, pa.string()),
        }
    )
    table = pa.table({"name": pa.array(names), "concept_index": pa.array(concept_of)})
    return KnowledgeBase(concepts=concepts, names=table, metadata={"source": "synthetic"})


def noisy_mentions(kb, n: int, seed: int = 1):
    import random

    from xenc_toolkit.api import Mention

    rng = random.Random(seed)
    names, concept_of = kb.name_list, kb.name_concept
    out = []
    for i in range(n):
        row = rng.randrange(len(names))
        words = names[row].split()
        edit = rng.random()
        if edit < 0.25 and len(words) > 1:
            words.pop(rng.randrange(len(words)))
        elif edit < 0.5:
            w = rng.randrange(len(words))
            if len(words[w]) > 3:
                j = rng.randrange(len(words[w]) - 1)
                words[w] = words[w][:j] + words[w][j + 1] + words[w][j] + words[w][j + 2 :]
        text = " ".join(words).lower()
        out.append(Mention(f"m{i}", f"d{i // 10}", text, (kb.concept_ids[int(concept_of[row])],)))
    return out


def mine(kb, index, mentions, n_candidates: int):
    from xenc_toolkit.api import Miner
    from xenc_toolkit.config import CandidateConfig, MineConfig, NegativesConfig

    cfg = MineConfig(
        candidates=CandidateConfig(generator="dense", n_candidates=n_candidates, batch_size=8192),
        negatives=NegativesConfig.model_validate({"hard": {"count": 8}, "type": {"count": 2}, "random": {"count": 1}}),
    )
    sync()
    t = time.perf_counter()
    result = Miner(kb, cfg, dense_index=index).mine({"train": mentions})
    sync()
    return time.perf_counter() - t, result.report


def encode_diagnostics(encoder, names, batch: int) -> dict:
    """Where encoding time goes: tokenisation alone, host syncs per batch, the numpy output path."""
    import warnings

    import torch

    out = {}
    sample = names[:1_000_000]
    processes = encoder.tokenizer_processes(len(names), None)
    out["tokenizer_processes"] = processes
    for label, procs in (("thread", 0), ("processes", processes)):
        if label == "processes" and not procs:
            continue
        t = time.perf_counter()
        tokens = sum(int(chunk.lengths.sum()) for chunk in encoder.chunks(sample, 131072, procs))
        out[f"tokenize_only_names_per_s_{label}"] = round(len(sample) / (time.perf_counter() - t), 1)
    out["mean_tokens_per_name"] = round(tokens / len(sample), 2)
    # the model alone: batches tokenised beforehand, then only the forward passes and the copies back
    from xenc_toolkit.api import ResultSink

    batches = list(encoder.batches(sample, batch, batch * 16, 131072))
    result = torch.empty((len(sample), encoder.dimension), dtype=encoder.dtype, device=encoder.device)
    sink = ResultSink(result)
    sync()
    t = time.perf_counter()
    with torch.inference_mode():
        for ids, lengths, positions in batches:
            sink.put(encoder.embed_batch(encoder.model, encoder.device, ids, lengths), positions)
    sync()
    out["model_only_names_per_s"] = round(len(sample) / (time.perf_counter() - t), 1)
    del batches, result
    if torch.cuda.is_available():
        torch.cuda.set_sync_debug_mode("warn")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            encoder.encode(names[:50000], batch_size=batch, output="torch")
        torch.cuda.set_sync_debug_mode("default")
        out["host_syncs_encoding_50k"] = sum("synchroniz" in str(w.message) for w in caught)
        out["host_sync_examples"] = sorted({str(w.message)[:160] for w in caught})[:3]
    sync()
    t = time.perf_counter()
    encoder.encode(sample, batch_size=batch, output="numpy")
    out["numpy_output_names_per_s"] = round(len(sample) / (time.perf_counter() - t), 1)
    print(f"encode diagnostics: {out}", flush=True)
    return out


def gpu(args) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    from xenc_toolkit.api import DenseIndex, NameEncoder

    work = Path(tempfile.mkdtemp(prefix="xenc-index-bench-"))
    figures, details = {}, {}
    t = time.perf_counter()
    kb = synthetic_kb(args.names)
    details["kb_build_seconds"] = round(time.perf_counter() - t, 1)
    print(f"synthetic KB: {kb.n_names:,} names in {details['kb_build_seconds']} s", flush=True)
    model = bert_base_from_minilm_vocab(
        work / "bert-base", layers=args.layers, hidden=args.hidden, sentence_transformers=True
    )
    names = kb.name_list
    encoder = NameEncoder(str(model), pooling="cls", max_length=25)
    details["tokenizer_fallback"] = encoder.tokenizer_fallback
    encoder.encode(names[:50000], batch_size=args.batch)  # warm-up
    details.update(encode_diagnostics(encoder, names, args.batch))
    sync()
    t = time.perf_counter()
    embeddings = encoder.encode(names, batch_size=args.batch, output="torch")
    sync()
    encode_s = time.perf_counter() - t
    figures["xenc_names_per_s"] = round(len(names) / encode_s, 1)
    details["xenc_encode_seconds"] = round(encode_s, 2)
    print(f"xenc encode: {figures['xenc_names_per_s']:,} names/s", flush=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"  # CPU only for a smoke run
    stock = SentenceTransformer(str(model), device=device)
    if device == "cuda":
        stock = stock.half()
    subset = names[: args.stock_names]
    stock.encode(subset[:20000], batch_size=1024, show_progress_bar=False)
    sync()
    t = time.perf_counter()
    reference = stock.encode(
        subset, batch_size=1024, show_progress_bar=False, convert_to_tensor=True, normalize_embeddings=True
    )
    sync()
    figures["stock_encode_names_per_s"] = round(len(subset) / (time.perf_counter() - t), 1)
    print(f"stock encode: {figures['stock_encode_names_per_s']:,} names/s", flush=True)
    k = min(10000, len(subset))
    cosine = (reference[:k].float().to(embeddings.device) * embeddings[:k].float()).sum(1)
    details["cosine_xenc_vs_stock_min"] = round(float(cosine.min()), 5)
    del stock, reference
    if device == "cuda":
        torch.cuda.empty_cache()
    index = DenseIndex(
        directory=None,
        manifest={"encoder": encoder.info.to_dict(), "index": {"type": "flat"}},
        embeddings=None,
        kb=kb,
        searcher=None,
        loaded_encoder=encoder,
    )
    from xenc_toolkit.api import TorchExactSearcher

    index.searcher = TorchExactSearcher(
        embeddings, device=device, dtype=torch.bfloat16 if device == "cuda" else None, max_scores_bytes=4 << 30
    )
    mentions = noisy_mentions(kb, args.mentions)
    seconds, report = mine(kb, index, mentions, args.candidates)
    figures.update({"kb_names": len(names), "mentions": len(mentions), "mining_seconds": round(seconds, 1)})
    print(f"mining {len(mentions):,} mentions: {seconds:.1f} s", flush=True)
    details["mining_report"] = report["splits"]["train"]
    details["encoder"] = (
        f"BERT-base-sized (12 x 768), random weights, CLS pooling, {str(encoder.dtype).split('.')[-1]}, max_length 25"
    )
    merge_and_write(figures, details, "gpu")


def cpu(args) -> None:
    from xenc_toolkit.api import DenseIndex
    from xenc_toolkit.config import EncoderConfig, IndexConfig

    kb = synthetic_kb(args.names)
    mentions = noisy_mentions(kb, args.mentions)
    figures, details = {}, {}
    for index_type in ("ivf", "hnsw"):
        work = Path(tempfile.mkdtemp(prefix=f"xenc-cpu-{index_type}-"))
        t = time.perf_counter()
        DenseIndex.build(
            kb,
            EncoderConfig(model=minilm_path(), batch_size=512, device="cpu"),
            IndexConfig(index_type=index_type, nprobe=16, ef_search=128),
            work / "index",
        )
        details[f"{index_type}_build_seconds"] = round(time.perf_counter() - t, 1)
        index = DenseIndex.load(work / "index", device="cpu")
        seconds, report = mine(kb, index, mentions, args.candidates)
        details[f"{index_type}_mining_seconds"] = round(seconds, 1)
        details[f"{index_type}_recall"] = report["splits"]["train"]["recall"]
    # the goal reads "with IVF or HNSW": the faster of the two (both are in details)
    figures["cpu_mining_seconds_10k_100k"] = min(details["ivf_mining_seconds"], details["hnsw_mining_seconds"])
    figures["cpu_kb_names"] = kb.n_names
    figures["cpu_mentions"] = len(mentions)
    details["cpu_encoder"] = "all-MiniLM-L6-v2 (offline), fp32"
    merge_and_write(figures, details, "cpu")


def merge_and_write(figures: dict, details: dict, part: str) -> None:
    """Both parts share index_mine.json: keep the other part's figures; "card" and "command" name the GPU
    part (the CPU part's card and command are in details.cpu)."""
    path = Path(RESULTS) / "index_mine.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    merged = dict(previous.get("figures", {}))
    merged.update(figures)
    all_details = dict(previous.get("details", {}))
    command = " ".join(["python", "benchmarks/index_mine.py", *sys.argv[1:]])
    all_details[part] = {**details, "card": card(), "command": command}
    keep = previous if part == "cpu" and previous.get("details", {}).get("gpu") else {}
    write_result("index_mine", merged, all_details, command=keep.get("command", command), card_name=keep.get("card"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="the CPU part (100K names, IVF and HNSW)")
    parser.add_argument("--names", type=int, default=4_500_000)
    parser.add_argument("--mentions", type=int, default=280_000)
    parser.add_argument("--candidates", type=int, default=32)
    parser.add_argument("--batch", type=int, default=16384)
    parser.add_argument("--stock-names", type=int, default=300_000)
    parser.add_argument("--layers", type=int, default=12, help="smaller for a CPU smoke run")
    parser.add_argument("--hidden", type=int, default=768)
    args = parser.parse_args()
    quiet_libraries()
    (cpu if args.cpu else gpu)(args)


if __name__ == "__main__":
    main()
